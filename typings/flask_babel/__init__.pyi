# Type stubs for the part of Flask-Babel the application uses: the package ships
# annotations on some functions but no py.typed marker, so mypy would read it as Any.
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any

from babel.core import Locale
from flask import Flask
from flask_babel.speaklater import LazyString

class Babel:
    def __init__(
        self,
        app: Flask | None = None,
        date_formats: dict[str, Any] | None = None,
        configure_jinja: bool = True,
        *args: Any,
        **kwargs: Any,
    ) -> None: ...
    def init_app(
        self,
        app: Flask,
        default_locale: str = "en",
        default_domain: str = "messages",
        default_translation_directories: str = "translations",
        default_timezone: str = "UTC",
        locale_selector: Callable[[], str | None] | None = None,
        timezone_selector: Callable[[], str | None] | None = None,
    ) -> None: ...

def gettext(string: str, **variables: Any) -> str: ...
def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str: ...
def lazy_gettext(string: str, **variables: Any) -> LazyString: ...
def get_locale() -> Locale | None: ...
def force_locale(locale: str | Locale) -> AbstractContextManager[None]: ...
def format_date(
    date: date | None = None, format: str | None = None, rebase: bool = True
) -> str: ...
def format_datetime(
    datetime: datetime | None = None, format: str | None = None, rebase: bool = True
) -> str: ...
