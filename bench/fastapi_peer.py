"""The peer bench/analyze-cached measures the gateway's cached /analyze
against: FastAPI with redis-py (Debian's python3-fastapi, python3-uvicorn,
python3-redis), doing less than the gateway does on a hit: the body
checked by pydantic, the question normalised and hashed, one Redis GET,
the envelope answered.  No session, no trail, no rate limit.

    QNA_PEER_REDIS=/path/redis.sock python3 -m uvicorn --app-dir bench \
        fastapi_peer:app --port PORT
"""

import datetime
import hashlib
import json
import os
import re
import uuid

import redis.asyncio as redis
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, constr

app = FastAPI()
store = redis.Redis(unix_socket_path=os.environ["QNA_PEER_REDIS"])


class Question(BaseModel):
    question: constr(min_length=1, max_length=1000)
    session_id: str | None = None


def now():
    return datetime.datetime.utcnow().isoformat(timespec="milliseconds") + "Z"


@app.post("/analyze")
async def analyze(q: Question):
    rid = uuid.uuid4().hex
    norm = " ".join(re.findall(r"[a-z0-9]+", q.question.lower()))
    key = "peer:result:" + hashlib.sha256(norm.encode()).hexdigest()
    cached = await store.get(key)
    if cached is None:
        return JSONResponse(status_code=404, content={
            "success": False,
            "error": {"code": "NOT_FOUND", "message": "not cached",
                      "details": {}},
            "recovery_suggestions": ["warm the cache"],
            "timestamp": now(), "request_id": rid})
    return JSONResponse(content={
        "success": True,
        "data": {"question": q.question, "execution_id": "exec_" + rid,
                 "result": json.loads(cached),
                 "metadata": {"cache_hit": True}},
        "timestamp": now(), "request_id": rid})
