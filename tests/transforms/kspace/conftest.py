from __future__ import annotations

import pytest


@pytest.fixture(params=[(1, 24, 17), (1, 16, 20, 3)], ids=["2d", "3d"])
def image_shape(request):
    return request.param
