"""URLs of djqueue outside the admin: include them in the project's URLconf.

``path("djqueue/", include("djqueue.urls"))`` serves the metrics at
``djqueue/metrics``. The admin pages need no URLconf entry: they come with
the admin site.
"""

from django.urls import path

from .metrics import metrics_view

app_name = "djqueue"

urlpatterns = [path("metrics", metrics_view, name="metrics")]
