from __future__ import annotations

from core.routers import Router
from stoplist.views import StopListViewSet

router = Router()
router.register("stoplist", StopListViewSet, basename="stoplist")

urlpatterns = router.urls
