from django.contrib import admin
from django.urls import include, path
from rest_framework.routers import DefaultRouter

from portal import accounts, api, health

router = DefaultRouter()
router.register("items", api.ItemViewSet, basename="item")
router.register("requests", api.RequestViewSet, basename="request")

admin.site.site_header = "Colorarchive administration"
admin.site.site_title = "Colorarchive"

urlpatterns = [
    path("", include("portal.gallery.urls")),
    path("catalog/", include("portal.catalog.urls")),
    path("jobs/", include("portal.jobs.urls")),
    path("api/", include(router.urls)),
    path("api/token/", api.TokenView.as_view(), name="api-token"),
    path("accounts/may-upload/", accounts.may_upload, name="may_upload"),  # asked by the proxy (docker/nginx)
    path("accounts/password_reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("health/", health.health, name="health"),  # for load balancers: JSON, 503 when a part is down
]

handler500 = "portal.middleware.server_error"  # an unreachable database or broker answers 503 (never 500)
