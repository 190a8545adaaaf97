"""Recommendations and their outcomes: what the author proposed, and what became of it."""

from __future__ import annotations

from collections.abc import Iterable

from sergas_tui.domain import Recommendation, RecommendationOutcome
from sergas_tui.storage import rows
from sergas_tui.storage.transactions import Transactions


class Recommendations(Transactions):
    """The ``recommendations`` and ``recommendation_outcomes`` tables (a part of
    :class:`~sergas_tui.storage.repository.Repository`)."""

    def save_recommendations(
        self,
        recommendations: Iterable[Recommendation],
        *,
        run_id: str | None = None,
        owner_email: str | None = None,
    ) -> None:
        """Insert or replace recommendations (by id); each must carry its ``account_id``."""
        values = [rows.recommendation_values(r, run_id, owner_email) for r in recommendations]
        with self._write("save recommendations") as conn:
            conn.executemany(
                "INSERT INTO recommendations (id, run_id, account_id, owner_email, created_at, "
                "type, priority, confidence, status, payload) VALUES (?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, "
                "account_id = excluded.account_id, owner_email = excluded.owner_email, "
                "created_at = excluded.created_at, type = excluded.type, "
                "priority = excluded.priority, confidence = excluded.confidence, "
                "status = excluded.status, payload = excluded.payload",
                values,
            )

    def recommendations_for(self, account_id: str) -> list[Recommendation]:
        """The account's recommendations, oldest first."""
        with self._read("read recommendations") as conn:
            found = conn.execute(
                "SELECT payload FROM recommendations WHERE account_id = ? "
                "ORDER BY created_at, rowid",
                (account_id,),
            ).fetchall()
        return [Recommendation.model_validate_json(row["payload"]) for row in found]

    def get_recommendation(self, recommendation_id: str) -> Recommendation | None:
        with self._read("read a recommendation") as conn:
            row = conn.execute(
                "SELECT payload FROM recommendations WHERE id = ?", (recommendation_id,)
            ).fetchone()
        return None if row is None else Recommendation.model_validate_json(row["payload"])

    def recommendation_ids_with_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        """Ids of recommendations starting with ``prefix`` (at most ``limit``)."""
        with self._read("read recommendations") as conn:
            found = conn.execute(
                "SELECT id FROM recommendations WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT ?",
                (len(prefix), prefix, limit),
            ).fetchall()
        return [row["id"] for row in found]

    def queued_recommendations(
        self, owner_email: str | None = None, *, account_id: str | None = None
    ) -> list[Recommendation]:
        """Recommendations waiting below the daily budget ("more, lower priority"), of one
        owner and/or one account, best expected value first."""
        sql = "SELECT payload FROM recommendations WHERE status = 'queued'"
        params: tuple[str, ...] = ()
        if owner_email is not None:
            sql += " AND owner_email = ?"
            params += (owner_email,)
        if account_id is not None:
            sql += " AND account_id = ?"
            params += (account_id,)
        with self._read("read queued recommendations") as conn:
            found = conn.execute(sql + " ORDER BY created_at, rowid", params).fetchall()
        recs = [Recommendation.model_validate_json(row["payload"]) for row in found]
        return sorted(recs, key=lambda r: -(r.value or 0.0))

    def set_recommendation_status(
        self, recommendation_ids: Iterable[str], status: str, *, only_from: str | None = None
    ) -> int:
        """Move recommendations to ``status`` (the column and the stored model), optionally
        only those still in ``only_from``; returns how many moved."""
        ids = list(recommendation_ids)
        if not ids:
            return 0
        sql = (
            "UPDATE recommendations SET status = ?, payload = json_set(payload, '$.status', ?) "
            f"WHERE id IN ({', '.join('?' for _ in ids)})"
        )
        params: tuple[str, ...] = (status, status, *ids)
        if only_from is not None:
            sql += " AND status = ?"
            params += (only_from,)
        with self._write("update recommendations") as conn:
            return conn.execute(sql, params).rowcount

    def queued_recommendation_count(self, owner_email: str | None = None) -> int:
        """How many recommendations wait below the daily budget (of one owner)."""
        sql = "SELECT count(*) FROM recommendations WHERE status = 'queued'"
        params: tuple[str, ...] = ()
        if owner_email is not None:
            sql += " AND owner_email = ?"
            params = (owner_email,)
        with self._read("count queued recommendations") as conn:
            return int(conn.execute(sql, params).fetchone()[0])

    # -- outcomes ---------------------------------------------------------------------------

    def save_outcome(self, outcome: RecommendationOutcome) -> None:
        """Insert or replace (by id) what became of a recommendation."""
        values = rows.outcome_values(outcome)
        with self._write("save a recommendation outcome") as conn:
            rows.insert(conn, "recommendation_outcomes", values, verb="INSERT OR REPLACE")

    def outcomes_for(self, account_id: str) -> list[RecommendationOutcome]:
        with self._read("read recommendation outcomes") as conn:
            found = conn.execute(
                "SELECT * FROM recommendation_outcomes WHERE account_id = ? "
                "ORDER BY created_at, rowid",
                (account_id,),
            ).fetchall()
        return [rows.outcome(row) for row in found]
