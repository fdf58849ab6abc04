from django.core.management.base import BaseCommand

from apps.accounts.models import User
from apps.accounts.services import demo_account_ensure

DEMO = [
    ("instructor", "memlab-instructor", User.Role.INSTRUCTOR),
    ("student", "memlab-student", User.Role.STUDENT),
]


class Command(BaseCommand):
    help = "Create a demo instructor and a demo student (for local use only) and print their credentials."

    def handle(self, *args: object, **options: object) -> None:
        for username, password, role in DEMO:
            account = demo_account_ensure(username=username, password=password, role=role)
            state = "created" if account.created else "exists (password unchanged)"
            self.stdout.write(f"  {role:<10} username: {username:<11} password: {password}   [{state}]")
