from __future__ import annotations

from clients.views import ClientViewSet
from core.routers import Router

router = Router()
router.register("clients", ClientViewSet, basename="client")

urlpatterns = router.urls
