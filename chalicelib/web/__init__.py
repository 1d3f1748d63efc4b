"""Resident web pages: server-rendered HTML for phones, inside LINE (LIFF) and in any browser.

`pages.py` holds the routes (a Blueprint app.py registers); everything else here is imported
by those handlers only when they run, never on the LINE webhook's import path.
"""
