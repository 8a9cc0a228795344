"""The Celery worker's entry module: ``celery -A booking.worker worker``.

The worker builds the application from the same environment as the web processes
(``DATABASE_URL``, ``CELERY_BROKER_URL``...) and runs the solver jobs they queue.
"""

from booking import create_app
from booking.services.jobs import celery_app

flask_app = create_app()
celery = celery_app(flask_app)
