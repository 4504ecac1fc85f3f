"""Mappings models, one module per concept."""

from mappings.models.imports import MappingImport
from mappings.models.mapping import BarMappingScope, ServerNameMapping

__all__ = ["BarMappingScope", "MappingImport", "ServerNameMapping"]
