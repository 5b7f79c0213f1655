from __future__ import annotations

from core.routers import Router
from mailings.views import MailingViewSet, TestSendViewSet

router = Router()
router.register("mailings", MailingViewSet, basename="mailing")
router.register("test_sends", TestSendViewSet, basename="test-send")

urlpatterns = router.urls
