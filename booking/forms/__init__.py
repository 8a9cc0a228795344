"""Flask-WTF forms, one module per blueprint; every state-changing form carries a CSRF token."""
