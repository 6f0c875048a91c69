"""`/live/`: a plain page on the JavaScript SDK (clients/js) that shows the realtime API at work.

The page is static HTML; its script (realtime/static/live/live.js) signs in over REST and talks
to `/ws/v1/` like any other client, so the view needs no data and no login of its own.
"""

from __future__ import annotations

from django.views.generic import TemplateView


class LivePageView(TemplateView):
    template_name = "realtime/live.html"
