from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from accounts import schema  # noqa: F401 - registers the OpenAPI auth extensions
        from accounts.models import User
        from accounts.session_cache import auth_fields_changed, user_deleted

        post_save.connect(auth_fields_changed, sender=User, dispatch_uid="accounts.auth_fields")
        post_delete.connect(user_deleted, sender=User, dispatch_uid="accounts.user_deleted")
