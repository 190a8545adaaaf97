"""The workspace's SQLite database: opening it safely, its migrations, and the repository.

Only :class:`Repository` touches the connections; everything else asks it by intent.
"""

from sergas_tui.storage.database import open_database
from sergas_tui.storage.migrations import backup_path
from sergas_tui.storage.repository import DatabaseInfo, Repository
from sergas_tui.storage.rows import content_hash
from sergas_tui.storage.schema import MIGRATIONS, SCHEMA_VERSION, Migration

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "DatabaseInfo",
    "Migration",
    "Repository",
    "backup_path",
    "content_hash",
    "open_database",
]
