"""When the scheduled review runs: ``[orchestrator] schedule_cron`` in a time zone.

Pure functions over croniter. The cron expression has the usual five fields (minute, hour,
day of month, month, day of week) and is read in ``[orchestrator] schedule_timezone`` (an IANA
name such as ``Europe/Madrid``), or, when that is unset, in the machine's own time zone (``TZ``,
else ``/etc/localtime``, else the current UTC offset). "0 6 * * *" is then 06:00 on the
machine's clock, through daylight-saving changes (croniter follows the zone's rules).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from sergas_tui.errors import ConfigError

CRON_FIELDS = ("minute", "hour", "day of month", "month", "day of week")
LOCALTIME = Path("/etc/localtime")


@dataclass(frozen=True)
class Schedule:
    """A cron expression read in one time zone."""

    cron: str
    zone: tzinfo
    zone_name: str

    def next_after(self, moment: datetime) -> datetime:
        """The first scheduled time strictly after ``moment`` (aware, in the schedule's zone)."""
        found: datetime = croniter(self.cron, moment.astimezone(self.zone)).get_next(datetime)
        return found

    def latest_at(self, moment: datetime) -> datetime:
        """The last scheduled time at or before ``moment``."""
        local = moment.astimezone(self.zone)
        # croniter's get_prev is strictly before its start: start a second later.
        found: datetime = croniter(self.cron, local + timedelta(seconds=1)).get_prev(datetime)
        return found

    def due(self, moment: datetime, *, within: timedelta) -> datetime | None:
        """The latest scheduled time in ``(moment - within, moment]``, or None: what a tick at
        ``moment`` should run, forgiving a worker that was down for less than ``within``."""
        latest = self.latest_at(moment)
        return latest if moment - latest < within else None

    def describe(self) -> str:
        """ "'0 6 * * *' in Europe/Madrid"."""
        return f"'{self.cron}' in {self.zone_name}"


def parse_schedule(cron: str, zone_name: str | None = None) -> Schedule:
    """The schedule of ``cron`` in ``zone_name`` (None: the machine's zone); ConfigError when
    either is not valid, saying what is expected."""
    expression = " ".join(cron.split())
    fields = expression.split(" ") if expression else []
    if len(fields) != len(CRON_FIELDS) or not croniter.is_valid(expression):
        raise ConfigError(
            f"[orchestrator] schedule_cron {cron!r} is not a cron expression of five fields "
            f"({', '.join(CRON_FIELDS)}). For example '0 6 * * *' is 06:00 every day and "
            "'30 5 * * 1-5' is 05:30 on weekdays.",
            title="Bad schedule",
        )
    if zone_name:
        try:
            zone: tzinfo = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ConfigError(
                f"[orchestrator] schedule_timezone {zone_name!r} is not a time zone this machine "
                "knows. Use an IANA name such as 'Europe/Madrid' or 'America/New_York', or "
                "leave it unset for the machine's own time zone.",
                title="Bad schedule",
            ) from err
        return Schedule(expression, zone, zone_name)
    zone, name = machine_zone()
    return Schedule(expression, zone, name)


def machine_zone(
    environ: dict[str, str] | None = None, localtime: Path = LOCALTIME
) -> tuple[tzinfo, str]:
    """The machine's time zone and its name: ``TZ``, else the zone ``/etc/localtime`` links
    to, else a fixed offset (the current one) named like 'UTC+02:00'."""
    env = os.environ if environ is None else environ
    candidates = [env.get("TZ", "").lstrip(":")]
    try:
        target = str(localtime.resolve())
    except OSError:
        target = ""
    if "zoneinfo/" in target:
        candidates.append(target.split("zoneinfo/", 1)[1])
    for name in candidates:
        if not name:
            continue
        try:
            return ZoneInfo(name), name
        except (ZoneInfoNotFoundError, ValueError):
            continue
    offset = datetime.now(UTC).astimezone().utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    fixed = datetime.now(UTC).astimezone().tzinfo or UTC
    return fixed, f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
