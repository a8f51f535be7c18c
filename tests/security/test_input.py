"""Form input that no database column can store is rejected with a message."""

from tests.conftest import csrf_token


def test_nul_character_rejected(signed_in):
    data = {
        "csrf_token": csrf_token(signed_in, "/forum/new"),
        "title": "钢材价格本周上涨",
        "signal_type": "market",
        "severity": "",
        "visibility": "all",
        "tags": "",
        "body_md": "螺纹钢\x00现货价格上涨。",
    }
    response = signed_in.post("/forum/new", data=data)
    assert response.status_code == 400
    assert "body_md" in response.get_data(as_text=True)
    assert "U+0000" in response.get_data(as_text=True)
    assert signed_in.get("/forum/").status_code == 200
    assert "钢材价格本周上涨" not in signed_in.get("/forum/").get_data(as_text=True)
