from django.apps import AppConfig


class LabelingConfig(AppConfig):
    name = "labeling"
    verbose_name = "Labeling"

    def ready(self) -> None:
        from candidates.signals import collection_job_finished

        from .receivers import collection_job_finished_receiver

        collection_job_finished.connect(
            collection_job_finished_receiver, dispatch_uid="labeling.items_from_collection"
        )
