"""The concept pages' figures: each memory's weight per past token against its age, measured on the reference
models at sync time (issue 20, section 2, the figure that unifies the course)."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse

import reference
from apps.course.figures import STEPS, T, age_profile, concept_figures, visibility
from apps.course.models import Concept

SVG = "{http://www.w3.org/2000/svg}"


def test_the_profiles_have_the_shapes_the_course_teaches() -> None:
    ema = age_profile("ema")
    alpha = ema.hyperparams["alpha"]
    assert all(
        b == pytest.approx(a * (1 - alpha), abs=1e-5) for a, b in itertools.pairwise(ema.weights)
    )  # geometric
    window = age_profile("window")
    n_c = window.hyperparams["n_c"]
    assert window.weights == [1.0] * n_c + [0.0] * (T - n_c)  # a box as wide as the window
    assert age_profile("cumulative-average").weights == [1.0] * T  # flat: every token counts the same
    wma = age_profile("weighted-moving-average")
    n = wma.hyperparams["n_c"]
    assert wma.weights[:n] == pytest.approx([(n - a) / n for a in range(n)]) and not any(
        wma.weights[n:]
    )  # a ramp
    sinks = age_profile("attention-sinks")
    s, w = sinks.hyperparams["n_sink"], sinks.hyperparams["n_recent"]
    assert sinks.weights == [1.0] * w + [0.0] * (T - w - s) + [1.0] * s  # the window and the first tokens
    assert not any(p.by_content for p in (ema, window, wma, sinks))
    assert age_profile("fast-weight").by_content and age_profile("linear-attention").by_content


def test_figures_are_svg_with_alt_text_giving_the_numbers() -> None:
    figure, mask = concept_figures(("ema",))
    assert "No cell lies above the diagonal" in mask["alt"]
    root = ET.fromstring(figure["svg"])
    assert root.tag == f"{SVG}svg" and figure["width"] > 0 and figure["height"] > 0
    assert "1.00, 0.50, 0.25" in figure["alt"]
    (overview,) = concept_figures(())
    titles = {"".join(t.itertext()) for t in ET.fromstring(overview["svg"]).iter(f"{SVG}text")}
    assert {"ema", "window", "fast weight", "attention sinks"} <= titles  # every model has its panel


def test_every_concept_has_a_figure_on_its_page(client, synced_course, student) -> None:  # type: ignore[no-untyped-def]
    assert not Concept.objects.filter(figures=[]).exists()
    client.force_login(student)
    concept = Concept.objects.get(slug="exponential-moving-average")
    html = client.get(reverse("course:concept", args=[concept.slug])).content.decode()
    url = reverse("course:concept-figure", args=[concept.slug, 0])
    assert f'src="{url}"' in html and 'alt="Bar chart: the weight of each of the last 16 tokens' in html
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert client.get(reverse("course:concept-figure", args=[concept.slug, 5])).status_code == 404
    Concept.objects.filter(pk=concept.pk).update(published=False)
    assert client.get(url).status_code == 404  # a draft's figure is as hidden as the draft


@pytest.mark.parametrize("model_id", sorted(reference.MODELS))
def test_no_read_out_uses_a_later_token(model_id: str) -> None:
    rows = visibility(model_id).rows
    assert all(not any(row[i + 1 :]) for i, row in enumerate(rows)), (
        model_id
    )  # causal: nothing above the diagonal
    assert all(row[i] > 0 for i, row in enumerate(rows)), model_id  # and each step's own token counts


def test_the_masks_are_the_band_the_sinks_and_the_staircase() -> None:
    def used(model_id: str) -> tuple[list[list[int]], dict[str, int]]:
        seen = visibility(model_id)
        return [[j for j, w in enumerate(row) if w > 0] for row in seen.rows], seen.hyperparams

    window, hp = used("window")
    assert window == [list(range(max(0, i - hp["n_c"] + 1), i + 1)) for i in range(STEPS)]
    sinks, hp = used("attention-sinks")
    s, w = hp["n_sink"], hp["n_recent"]
    assert sinks == [sorted({*range(min(i + 1, s)), *range(max(0, i - w + 1), i + 1)}) for i in range(STEPS)]
    segments, hp = used("segment-recurrence")
    size, m = hp["L"], hp["m"]
    assert segments == [list(range(max(0, (i // size - m) * size), i + 1)) for i in range(STEPS)]
