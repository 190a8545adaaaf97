"""`sergas serve`: the approval pages behind the links of notification digests.

desk.py    the link → approval → decision → write flow (the same approvals service,
           executor, audit and team records as the TUI)
pages.py   the HTML (Jinja, autoescaped) and every answer
nonce.py   the decision form's nonce (CSRF)
app.py     the Starlette app, its security headers and uvicorn
"""
