"""Flask extensions, created unbound and initialised in the app factory.

Babel is created per application in ``booking.i18n``.
"""

from __future__ import annotations

from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
login_manager = LoginManager()
