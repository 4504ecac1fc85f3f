from django.urls import path

from mappings import api, views

app_name = "mappings"

bar = "mappings/bars/<uuid:bar_id>/"
urlpatterns = [
    path("mappings/", views.bar_list, name="bar_list"),
    path(bar, views.bar_detail, name="bar_detail"),
    path(f"{bar}add/", views.mapping_create, name="mapping_create"),
    path(f"{bar}<int:pk>/edit/", views.mapping_edit, name="mapping_edit"),
    path(f"{bar}<int:pk>/row/", views.mapping_row, name="mapping_row"),
    path(f"{bar}<int:pk>/delete/", views.mapping_delete, name="mapping_delete"),
    path(f"{bar}unmapped/", views.unmapped, name="unmapped"),
    path(f"{bar}export.csv", views.export_csv, name="export"),
    path(f"{bar}import/", views.import_upload, name="import"),
    path(f"{bar}import/<uuid:import_id>/apply/", views.import_apply, name="import_apply"),
    path(f"{bar}tester/", views.tester, name="tester"),
    path(f"{bar}history/", views.history, name="history"),
    # BarTender clients (token auth, no session): a malformed bar id is answered by the view, in JSON.
    path("api/v1/bars/<str:bar_id>/resolve-server", api.resolve_server, name="api_resolve_server"),
]
