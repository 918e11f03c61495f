from django.apps import AppConfig


class BoxesConfig(AppConfig):
    name = "boxes"
    verbose_name = "Bounding boxes"

    def ready(self) -> None:
        from crowds.costs import task_costs_register

        from .selectors import box_task_costs

        task_costs_register(box_task_costs)
