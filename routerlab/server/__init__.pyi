from .app import (
    Answers as Answers,
    Faults as Faults,
    ProviderServer as ProviderServer,
    Window as Window,
    answers_from_dataset as answers_from_dataset,
)
from .serve import (
    parse_fault as parse_fault,
    serve_main as serve_main,
)
