from opsdesk.monitoring.models.agents import Agent, AgentKind, EnrolmentToken, IngestBatch, Inventory
from opsdesk.monitoring.models.alerts import (
    OPEN_STATES,
    SEVERITY_RANK,
    Alert,
    AlertEvent,
    AlertEventKind,
    AlertRule,
    AlertSource,
    AlertState,
    InboundIntegration,
    IntegrationKind,
    MaintenanceWindow,
    Operator,
    Recurrence,
    RuleKind,
    Severity,
    Silence,
)
from opsdesk.monitoring.models.checks import STATE_SEVERITY, Check, CheckState, CheckStateChange
from opsdesk.monitoring.models.discovery import DiscoveredDevice, DiscoveryRun, DiscoveryStatus
from opsdesk.monitoring.models.series import Chunk, Rollup, Series, StoreCursor
from opsdesk.monitoring.models.templates import Template

__all__ = [
    "OPEN_STATES", "SEVERITY_RANK", "Alert", "AlertEvent", "AlertEventKind", "AlertRule", "AlertSource", "AlertState",
    "InboundIntegration", "IntegrationKind", "MaintenanceWindow", "Operator", "Recurrence", "RuleKind", "Severity",
    "Silence",
    "STATE_SEVERITY", "Agent", "AgentKind", "Check", "CheckState", "CheckStateChange", "Chunk",
    "DiscoveredDevice", "DiscoveryRun", "DiscoveryStatus", "EnrolmentToken", "IngestBatch", "Inventory",
    "Rollup", "Series", "StoreCursor", "Template",
]
