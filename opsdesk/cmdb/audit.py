from opsdesk.core.audit import register

register("cmdb.CIKind")
register("cmdb.ConfigurationItem")
register("cmdb.Relation")
