"""Client replay: recorded exchanges fed to real client libraries (openai-python,
langchain-openai, openai-node, the Vercel AI SDK) through their own transport hooks, never
over the network, and what each read compared with the suite's own reading of the bytes.

May import ``wire``, ``contract`` and ``checks``; ``engine``, ``run`` and ``report`` may
import it. The Node clients live in ``node/`` (``npm ci --prefix conformance/clients/node``).
"""

from conformance.clients._replay import ClientRun, ClientStatus, Replay, replay, replayable

__all__ = ["ClientRun", "ClientStatus", "Replay", "replay", "replayable"]
