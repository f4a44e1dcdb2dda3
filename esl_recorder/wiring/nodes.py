"""The FreeSWITCH nodes: one event router for all, and per node an ESL client and the call
control the domain drives it through."""

from __future__ import annotations

from ..domain.policy_recorder import PolicyRecorder
from ..domain.scripts import ScriptRunner
from ..esl import events as ev
from ..esl.client import EslClient
from ..esl.control import EslCallControl
from ..esl.frames import Event
from ..esl.ingest import EventRouter
from ..settings import NodeSettings, Settings
from .core import Core


def event_router(settings: Settings, core: Core, scripts: ScriptRunner | None) -> EventRouter:
    return EventRouter(core.tracker, core.follower, core.metrics, settings.identity, scripts,
                       settings.scripts.variable,
                       (settings.kazoo.direction_variable, settings.kazoo.network_variable))


def esl_clients(settings: Settings, core: Core, router: EventRouter,
                scripts: ScriptRunner | None, policies: PolicyRecorder) -> dict[str, EslClient]:
    """A client per configured node, its call control put in `core.controls`. The script
    events are subscribed only when there is a script runner."""
    events = ev.SUBSCRIBED + (ev.SCRIPT_EVENTS if scripts is not None else ())
    clients: dict[str, EslClient] = {}
    for node in settings.nodes:
        clients[node.name] = client = _client_for(node, settings, core, router, events,
                                                  scripts, policies)
        core.controls[node.name] = EslCallControl(client, core.executions)
    return clients


def _client_for(node: NodeSettings, settings: Settings, core: Core, router: EventRouter,
                events: tuple[str, ...], scripts: ScriptRunner | None,
                policies: PolicyRecorder) -> EslClient:
    controls = core.controls

    def on_event(client: EslClient, event: Event) -> None:
        router.handle(client.node_name, event)

    def on_connect(client: EslClient) -> None:
        core.follower.reconcile(client.node_name, controls[client.node_name])
        policies.reconcile(client.node_name, controls[client.node_name])
        if scripts is not None:
            scripts.reconcile(client.node_name, controls[client.node_name])

    def on_disconnect(client: EslClient) -> None:
        core.executions.node_lost(client.node_name)

    return EslClient(node, settings.esl, events=events, on_event=on_event,
                     on_connect=on_connect, on_disconnect=on_disconnect, metrics=core.metrics)
