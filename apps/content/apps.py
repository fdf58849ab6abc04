from django.apps import AppConfig


class ContentConfig(AppConfig):
    """The course as files: reading the folder, syncing it into course, quiz and lab, and exporting it back.

    No models of its own. It sits on top of the apps whose rows it writes (each through its own loader), so that
    none of them imports another to be synced.
    """

    name = "apps.content"
    label = "content"
