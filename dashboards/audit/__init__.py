"""The precision audit: sampling accepted images stratified over tree depth (``maths``), runs and
reviews (``services``, ``selectors``) and its pages (``views``); its models are in
``dashboards.models``."""
