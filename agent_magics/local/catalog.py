"""What the local workspace serves: its Model Serving endpoints and Databricks Apps, as the
control plane (``/api/2.0/serving-endpoints``, ``/api/2.0/apps``) describes them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from agent_magics.local.agents import BenchAgent, DemoAgent, DemoChatAgent, DemoChatModel, HostileAgent
from agent_magics.local.embeddings import EmbeddingsAdapter
from agent_magics.local.faults import FAULT_ENDPOINTS, FLAKY_ENDPOINT
from agent_magics.local.interfaces import Adapter, ChatAgentAdapter, ChatModelAdapter, ResponsesAdapter
from agent_magics.local.judge import DemoJudge
from agent_magics.local.llm import DemoLLM, LLMAdapter
from agent_magics.local.pacing import Pace
from agent_magics.transport.embedded_config import DEMO_APP, LOCAL_USER, LOGIN_FAULT_APP, NOT_RESPONSES_APP

# Task values as MLflow writes them into a model's metadata (see PROTOCOL.md §2.1).
RESPONSES_TASK = "agent/v1/responses"
CHAT_AGENT_TASK = "agent/v2/chat"
CHAT_MODEL_TASK = "agent/v1/chat"
LLM_CHAT_TASK = "llm/v1/chat"
EMBEDDINGS_TASK = "llm/v1/embeddings"

CREATED_MS = 1735689600000  # 2025-01-01T00:00:00Z: fixed, so listings are reproducible
_NAMESPACE = uuid.UUID("6d1f6a52-5c0b-4f7e-9a53-0c1a2b3c4d5e")


def stable_uuid(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, name))


@dataclass(frozen=True)
class Endpoint:
    name: str
    task: str
    adapter: Adapter | LLMAdapter | EmbeddingsAdapter
    description: str
    entity_name: str | None = None  # a Unity Catalog model; None for a foundation model

    @property
    def served_name(self) -> str:
        """The served entity's name (the traffic route's ``served_model_name``)."""
        return f"{self.name.replace('-', '_')}-1"

    def to_json(self, host: str) -> dict[str, Any]:
        served_name = self.served_name
        entity: dict[str, Any] = {
            "name": served_name,
            "workload_size": "Small",
            "scale_to_zero_enabled": True,
            "state": {"deployment": "DEPLOYMENT_READY", "deployment_state_message": ""},
            "creator": LOCAL_USER,
            "creation_timestamp": CREATED_MS,
        }
        if self.entity_name:
            entity.update(entity_name=self.entity_name, entity_version="1")
        else:
            entity["foundation_model"] = {"name": self.name, "display_name": self.name}
        body: dict[str, Any] = {
            "name": self.name,
            "id": stable_uuid(f"endpoint/{self.name}").replace("-", ""),
            "task": self.task,
            "description": self.description,
            "creator": LOCAL_USER,
            "creation_timestamp": CREATED_MS,
            "last_updated_timestamp": CREATED_MS,
            "state": {"ready": "READY", "config_update": "NOT_UPDATING"},
            "config": {
                "served_entities": [entity],
                "traffic_config": {"routes": [{"served_model_name": served_name, "traffic_percentage": 100}]},
                "config_version": 1,
            },
            "endpoint_url": f"{host}/serving-endpoints/{self.name}/invocations",
            "permission_level": "CAN_MANAGE",
            "route_optimized": False,
            "tags": [{"key": "source", "value": "agent-magics-local"}],
        }
        if not self.entity_name:
            body["endpoint_type"] = "FOUNDATION_MODEL_API"
        return body


def build_endpoints(pace: Pace) -> dict[str, Endpoint]:
    demo = ResponsesAdapter(DemoAgent(pace))
    endpoints = [
        Endpoint(
            "demo-agent",
            RESPONSES_TASK,
            demo,
            "ResponsesAgent answering questions about querying Databricks agents.",
            "main.demo.demo_agent",
        ),
        Endpoint(
            "demo-chat-agent",
            CHAT_AGENT_TASK,
            ChatAgentAdapter(DemoChatAgent(pace)),
            "ChatAgent (legacy) with the same knowledge.",
            "main.demo.demo_chat_agent",
        ),
        Endpoint(
            "demo-chat-model",
            CHAT_MODEL_TASK,
            ChatModelAdapter(DemoChatModel(pace)),
            "ChatModel (legacy) with the same knowledge.",
            "main.demo.demo_chat_model",
        ),
        Endpoint(
            "demo-llm",
            LLM_CHAT_TASK,
            LLMAdapter(DemoLLM(pace)),
            "A chat language model (foundation-model style): max_tokens, tools, response_format.",
        ),
        Endpoint(
            "demo-judge",
            LLM_CHAT_TASK,
            LLMAdapter(DemoJudge(pace)),
            "A deterministic stand-in for an LLM judge (word checks, not a model): answers MLflow's "
            "correctness, relevance, safety and guidelines prompts with their JSON verdict.",
        ),
        Endpoint(
            "demo-embeddings",
            EMBEDDINGS_TASK,
            EmbeddingsAdapter(),
            "A small deterministic text-embedding model (64 dimensions).",
        ),
        Endpoint(
            "bench-agent",
            RESPONSES_TASK,
            ResponsesAdapter(BenchAgent()),
            "Deterministic text at a set rate; custom_inputs: tokens, tokens_per_second, "
            "first_token_delay, paragraph_every, tokens_per_delta.",
            "main.demo.bench_agent",
        ),
        Endpoint(
            "hostile-agent",
            RESPONSES_TASK,
            ResponsesAdapter(HostileAgent(pace)),
            "Answers with XSS payloads everywhere, for security tests.",
            "main.demo.hostile_agent",
        ),
        Endpoint(
            FLAKY_ENDPOINT,
            RESPONSES_TASK,
            demo,
            "demo-agent, but ~5% of distinct requests fail their first attempt with 503.",
            "main.demo.demo_agent",
        ),
    ]
    endpoints += [
        Endpoint(name, RESPONSES_TASK, demo, f"Fault injection: {name}.", "main.demo.demo_agent")
        for name in FAULT_ENDPOINTS
    ]
    return {e.name: e for e in endpoints}


APP_DESCRIPTIONS = {
    DEMO_APP: "MLflow AgentServer (ResponsesAgent) with the demo-agent's knowledge.",
    LOGIN_FAULT_APP: "Answers every request with an HTML login page and status 200 (an expired session).",
    NOT_RESPONSES_APP: "A DurableAgentServer-style app: POST /api/invocations only, no OpenAI /responses.",
}


def app_json(name: str, url: str) -> dict[str, Any]:
    return {
        "name": name,
        "id": stable_uuid(f"app/{name}"),
        "description": APP_DESCRIPTIONS[name],
        "url": url,
        "app_status": {"state": "RUNNING", "message": "App has status: App is running"},
        "compute_status": {"state": "ACTIVE", "message": "App compute is running.", "active_instances": 1},
        "compute_size": "MEDIUM",
        "create_time": "2025-01-01T00:00:00Z",
        "update_time": "2025-01-01T00:00:00Z",
        "creator": LOCAL_USER,
        "updater": LOCAL_USER,
        "default_source_code_path": f"/Workspace/Users/{LOCAL_USER}/{name}",
        "oauth2_app_client_id": stable_uuid(f"app-client/{name}"),
        "oauth2_app_integration_id": stable_uuid(f"app-integration/{name}"),
        "service_principal_client_id": stable_uuid(f"app-sp/{name}"),
        "service_principal_id": 1000 + sorted(APP_DESCRIPTIONS).index(name),
        "service_principal_name": f"app-{name}",
    }
