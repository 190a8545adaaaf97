"""View models: what each screen shows, computed from the services without Textual.

Screens call these from workers and render the result; the logic (joins, sorting, filtering,
wording) lives here, where unit tests reach it without a terminal.
"""
