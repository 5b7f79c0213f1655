from __future__ import annotations

from core.routers import Router
from mailings.views import MailingViewSet

router = Router()
router.register("mailings", MailingViewSet, basename="mailing")

urlpatterns = router.urls
