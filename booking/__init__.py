"""Prêt Commun: the Flask application."""
