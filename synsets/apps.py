from django.apps import AppConfig


class SynsetsConfig(AppConfig):
    name = "synsets"
    verbose_name = "WordNet synsets"
