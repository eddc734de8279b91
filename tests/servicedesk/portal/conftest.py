from __future__ import annotations

import pytest

from opsdesk.servicedesk.models import Category

PRINTER_FIELDS = [
    {"name": "serial", "label": {"en": "Serial number", "zh-hans": "序列号"}, "type": "text", "required": True},
    {"name": "floor", "label": {"en": "Floor", "zh-hans": "楼层"}, "type": "number"},
    {"name": "model", "label": {"en": "Model", "zh-hans": "型号"}, "type": "choice",
     "choices": [["laser", {"en": "Laser", "zh-hans": "激光"}], ["inkjet", {"en": "Inkjet", "zh-hans": "喷墨"}]]},
]


@pytest.fixture
def printer_category(db):
    return Category.objects.create(name="Printer 打印机", form_fields=PRINTER_FIELDS,
                                   description="Printers, scanners and copiers.")


def page(response) -> str:
    return response.content.decode()
