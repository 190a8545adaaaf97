"""The key footer of every screen: Textual's ``Footer``, recomposed only when its keys change.

Textual's footer rebuilds all its key widgets whenever the screen's bindings *may* have changed
(any focus change, every return to a screen), which costs a good part of switching views or
opening an account. This one compares what it would show (each shown binding's key, label,
action and state) with what it shows, and keeps its widgets when they are the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Footer

if TYPE_CHECKING:
    from textual.screen import Screen


class ShellFooter(Footer):
    def __init__(self) -> None:
        super().__init__()
        self._composed: tuple[object, ...] | None = None

    def _keys(self, screen: Screen[object]) -> tuple[object, ...]:
        app = self.app
        return tuple(
            (
                binding.key,
                app.get_key_display(binding),
                binding.description,
                binding.action,
                binding.group,
                enabled,
                tooltip,
            )
            for _node, binding, enabled, tooltip in screen.active_bindings.values()
            if binding.show
        )

    def bindings_changed(self, screen: Screen[object]) -> None:
        if self.is_attached and screen is self.screen and screen.app.app_focus:
            keys = self._keys(screen)
            if keys == self._composed and self.children:
                return
            self._composed = keys
        super().bindings_changed(screen)
