from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from botskis.app import create_app
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAIServer
from tests.users.factories import Account, sign_up

SUPPORT_ANSWERS = [
    {"question_id": "role", "answer": "support"},
    {"question_id": "company_size", "answer": "11-50"},
    {"question_id": "main_goals", "answer": ["support"]},
    {
        "question_id": "pain_points",
        "answer": "We drown in support tickets and customers ask the same questions.",
    },
    {"question_id": "tools", "answer": ["slack", "zendesk"]},
]
FINANCE_ANSWERS = [
    {"question_id": "role", "answer": "finance"},
    {"question_id": "company_size", "answer": "2-10"},
    {"question_id": "main_goals", "answer": ["finance"]},
    {"question_id": "pain_points", "answer": "Chasing overdue invoices every week!"},
    {"question_id": "tools", "answer": ["stripe", "quickbooks"]},
]


async def answer(client: httpx.AsyncClient, account: Account, answers: list[Any]) -> httpx.Response:
    return await client.post(
        "/api/v1/onboarding/answers", headers=account.headers, json={"answers": answers}
    )


async def recommend(client: httpx.AsyncClient, account: Account) -> dict[str, Any]:
    response = await client.post("/api/v1/onboarding/recommendations", headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_first_call_creates_a_session_with_five_questions(
    client: httpx.AsyncClient,
) -> None:
    account = await sign_up(client)
    response = await client.get("/api/v1/onboarding", headers=account.headers)
    assert response.status_code == 200
    body = response.json()
    questions = {q["id"]: q for q in body["questions"]}
    assert list(questions) == ["role", "company_size", "main_goals", "pain_points", "tools"]
    assert questions["main_goals"]["kind"] == "multi" and questions["tools"]["kind"] == "multi"
    assert questions["pain_points"]["kind"] == "text"
    assert questions["pain_points"]["max_length"] == 2000
    assert all(questions[q]["options"] for q in ("role", "company_size", "main_goals", "tools"))
    assert body["answers"] == {} and body["recommendations"] is None
    again = await client.get("/api/v1/onboarding", headers=account.headers)
    assert again.json()["id"] == body["id"]


async def test_answers_are_stored_and_merged(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    first = await answer(client, account, SUPPORT_ANSWERS[:2])
    assert first.status_code == 200
    second = await answer(client, account, [{"question_id": "role", "answer": "sales"}])
    assert second.json()["answers"] == {"role": "sales", "company_size": "11-50"}


@pytest.mark.parametrize(
    ("item", "question"),
    [
        ({"question_id": "role", "answer": "astronaut"}, "role"),
        ({"question_id": "role", "answer": ["sales"]}, "role"),
        ({"question_id": "main_goals", "answer": ["support", "world_peace"]}, "main_goals"),
        ({"question_id": "main_goals", "answer": "support"}, "main_goals"),
        ({"question_id": "tools", "answer": ["slack", "slack"]}, "tools"),
        ({"question_id": "pain_points", "answer": "x" * 2001}, "pain_points"),
        ({"question_id": "pain_points", "answer": ["x"]}, "pain_points"),
        ({"question_id": "favourite_colour", "answer": "blue"}, "favourite_colour"),
    ],
)
async def test_invalid_answer_is_422_naming_the_question(
    client: httpx.AsyncClient, item: dict[str, Any], question: str
) -> None:
    account = await sign_up(client)
    response = await answer(client, account, [SUPPORT_ANSWERS[0], item])
    assert response.status_code == 422
    assert question in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == f"answers.1.{question}"
    session = await client.get("/api/v1/onboarding", headers=account.headers)
    assert session.json()["answers"] == {}


@pytest.mark.parametrize(
    "body",
    [{}, {"answers": []}, {"answers": [{"question_id": "role"}]}, {"answers": "role=sales"}],
)
async def test_malformed_answers_body_is_422(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    account = await sign_up(client)
    response = await client.post("/api/v1/onboarding/answers", headers=account.headers, json=body)
    assert response.status_code == 422


async def test_recommendations_need_the_required_answers(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    await answer(client, account, SUPPORT_ANSWERS[:1])
    response = await client.post("/api/v1/onboarding/recommendations", headers=account.headers)
    assert response.status_code == 409
    assert response.json()["missing_questions"] == ["company_size", "main_goals"]


async def test_support_team_gets_triage_and_faq_first(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    await answer(client, account, SUPPORT_ANSWERS)
    body = await recommend(client, account)
    assert body["source"] == "rules"
    top = body["recommendations"]
    assert [r["slug"] for r in top] == [
        "customer-support-triager",
        "faq-responder",
        "churn-predictor",
    ]
    assert [r["score"] for r in top] == [8, 7, 2]
    assert top[0]["reason"] == (
        "Customer Support Triager: it helps you answer customers faster; you mentioned "
        '"tickets"; it works with Slack and Zendesk, which you use.'
    )
    assert '"same questions"' in top[1]["reason"]
    session = (await client.get("/api/v1/onboarding", headers=account.headers)).json()
    assert [r["slug"] for r in session["recommendations"]] == [r["slug"] for r in top]


async def test_finance_team_gets_payment_reminders_first(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    await answer(client, account, FINANCE_ANSWERS)
    top = (await recommend(client, account))["recommendations"]
    assert [(r["slug"], r["score"]) for r in top] == [
        ("payment-reminder-bot", 11),
        ("invoice-email-processor", 6),
        ("expense-report-automation", 3),
    ]
    assert '"invoices", "overdue" and "chasing"' in top[0]["reason"]


async def test_same_answers_same_recommendations(client: httpx.AsyncClient) -> None:
    first, second = await sign_up(client), await sign_up(client)
    await answer(client, first, FINANCE_ANSWERS)
    await answer(client, second, list(reversed(FINANCE_ANSWERS)))
    assert await recommend(client, first) == await recommend(client, second)


async def test_complete_deploys_the_chosen_templates(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    await answer(client, account, FINANCE_ANSWERS)
    response = await client.post(
        "/api/v1/onboarding/complete",
        headers=account.headers,
        json={
            "template_ids": ["payment-reminder-bot", "report-generator"],
            "configs": {
                "report-generator": {
                    "data_url": "https://example.com/data.json",
                    "recipients": ["me@example.com"],
                }
            },
        },
    )
    assert response.status_code == 201, response.text
    agents = response.json()["agents"]
    assert [a["template_slug"] for a in agents] == ["payment-reminder-bot", "report-generator"]
    assert agents[0]["needs_credentials"] == ["stripe"]
    listed = await client.get("/api/v1/agents", headers=account.headers)
    assert listed.json()["total"] == 2
    session = (await client.get("/api/v1/onboarding", headers=account.headers)).json()
    assert session["completed_at"] is not None


async def test_complete_deploys_nothing_when_one_config_is_bad(
    client: httpx.AsyncClient,
) -> None:
    account = await sign_up(client)
    response = await client.post(
        "/api/v1/onboarding/complete",
        headers=account.headers,
        json={"template_ids": ["payment-reminder-bot", "report-generator", "nope"]},
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {
        "configs.report-generator.config.data_url",
        "configs.report-generator.config.recipients",
        "template_ids.nope",
    } == fields
    listed = await client.get("/api/v1/agents", headers=account.headers)
    assert listed.json()["total"] == 0


async def test_complete_respects_the_agent_quota(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    for _ in range(4):
        await client.post(
            "/api/v1/agents/deploy",
            headers=account.headers,
            json={"template_id": "payment-reminder-bot", "config": {}},
        )
    response = await client.post(
        "/api/v1/onboarding/complete",
        headers=account.headers,
        json={"template_ids": ["payment-reminder-bot", "meeting-notes-summarizer"]},
    )
    assert response.status_code == 403
    assert response.json()["limit"] == 5
    listed = await client.get("/api/v1/agents", headers=account.headers)
    assert listed.json()["total"] == 4


@pytest.mark.parametrize(
    "body",
    [
        {"template_ids": []},
        {"template_ids": ["a", "b", "c", "d", "e", "f"]},
        {"template_ids": ["payment-reminder-bot", "payment-reminder-bot"]},
        {"template_ids": ["payment-reminder-bot"], "configs": {"report-generator": {}}},
    ],
)
async def test_bad_complete_body_is_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    account = await sign_up(client)
    response = await client.post("/api/v1/onboarding/complete", headers=account.headers, json=body)
    assert response.status_code == 422


async def test_delete_restarts_the_session(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    first = (await client.get("/api/v1/onboarding", headers=account.headers)).json()
    await answer(client, account, SUPPORT_ANSWERS)
    deleted = await client.delete("/api/v1/onboarding", headers=account.headers)
    assert deleted.status_code == 204
    fresh = (await client.get("/api/v1/onboarding", headers=account.headers)).json()
    assert fresh["id"] != first["id"] and fresh["answers"] == {}


async def test_sessions_are_per_user(client: httpx.AsyncClient) -> None:
    alice, bob = await sign_up(client), await sign_up(client)
    await answer(client, alice, SUPPORT_ANSWERS)
    bobs = (await client.get("/api/v1/onboarding", headers=bob.headers)).json()
    assert bobs["answers"] == {}
    await client.delete("/api/v1/onboarding", headers=bob.headers)
    alices = (await client.get("/api/v1/onboarding", headers=alice.headers)).json()
    assert alices["answers"]["role"] == "support"


async def test_onboarding_needs_auth(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/v1/onboarding"),
        ("DELETE", "/api/v1/onboarding"),
        ("POST", "/api/v1/onboarding/answers"),
        ("POST", "/api/v1/onboarding/recommendations"),
        ("POST", "/api/v1/onboarding/complete"),
    ]:
        assert (await client.request(method, path)).status_code == 401, path


@pytest.fixture
async def llm_client(
    database_url: str, tmp_path: Path, fake_openai: FakeOpenAIServer
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        database_url,
        tmp_path / "logs",
        openai_base_url=fake_openai.base_url,
        openai_api_key="sk-onboarding-test",
    )
    application = create_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_llm_reranks_and_rephrases_within_the_candidates(
    llm_client: httpx.AsyncClient, fake_openai: FakeOpenAIServer
) -> None:
    account = await sign_up(llm_client)
    await answer(llm_client, account, SUPPORT_ANSWERS)
    fake_openai.reply(
        {
            "recommendations": [
                {"slug": "faq-responder", "reason": "Stop answering the same questions."},
                {"slug": "customer-support-triager", "reason": "Route tickets to the right team."},
                {"slug": "meeting-notes-summarizer", "reason": "Share call notes in Slack."},
            ]
        }
    )
    body = await recommend(llm_client, account)
    assert body["source"] == "llm"
    top = body["recommendations"]
    assert [r["slug"] for r in top] == [
        "faq-responder",
        "customer-support-triager",
        "meeting-notes-summarizer",
    ]
    assert top[0]["reason"] == "Stop answering the same questions."
    assert top[0]["score"] == 7
    request = fake_openai.completions[-1]
    assert request["response_format"]["type"] == "json_schema"
    assert "customer-support-triager" in request["messages"][1]["content"]
    assert "slack-digest" not in request["messages"][1]["content"]
    assert "We drown in support tickets" in request["messages"][1]["content"]


@pytest.mark.parametrize(
    "script",
    [
        lambda f: f.fail(500),
        lambda f: f.fail(429, retry_after=1),
        lambda f: f.fail(401),
        lambda f: f.reply("this is not json"),
        lambda f: f.reply(
            {
                "recommendations": [
                    {"slug": "faq-responder", "reason": "a"},
                    {"slug": "made-up-agent", "reason": "b"},
                    {"slug": "slack-digest", "reason": "c"},
                ]
            }
        ),
        lambda f: f.reply({"recommendations": [{"slug": "faq-responder", "reason": "a"}] * 3}),
        lambda f: f.reply({"recommendations": [{"slug": "faq-responder", "reason": "a"}]}),
    ],
    ids=["500", "429", "401", "not-json", "unknown-slug", "duplicates", "too-few"],
)
async def test_any_llm_failure_falls_back_to_the_rules(
    llm_client: httpx.AsyncClient, fake_openai: FakeOpenAIServer, script: Any
) -> None:
    account = await sign_up(llm_client)
    await answer(llm_client, account, SUPPORT_ANSWERS)
    script(fake_openai)
    body = await recommend(llm_client, account)
    assert body["source"] == "rules"
    assert [r["slug"] for r in body["recommendations"]] == [
        "customer-support-triager",
        "faq-responder",
        "churn-predictor",
    ]
    assert len(fake_openai.completions) == 1
