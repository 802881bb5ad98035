"""Rubric schema (rubrics/model.py), files (rubrics/io.py) and lookup (rubrics/lookup.py)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from evaluator.errors import QuestionNotFound, RubricError
from evaluator.rubrics.compile import compile_markdown
from evaluator.rubrics.io import dump_document, load_document, load_rubrics
from evaluator.rubrics.lookup import RubricSet
from evaluator.rubrics.model import RubricDocument
from tests.helpers import REPO

SEED = REPO / "seeds" / "000_7ace44ecab84a0b1.txt"

VALID = {
    "document": "d",
    "title": "Test document",
    "rubrics": [
        {
            "id": "d-q1",
            "number": 1,
            "title": "What is a tensor?",
            "question": "Explain what a tensor is.",
            "reference_answer": "A multi-dimensional array of numbers.",
            "key_points": [
                {"id": "k1", "label": "definition", "text": "A multi-dimensional array."}
            ],
        },
        {
            "id": "d-q2",
            "number": 2,
            "title": "What is a GPU?",
            "question": "Explain what a GPU is.",
            "reference_answer": "A processor for parallel arithmetic.",
            "key_points": [
                {
                    "id": "k1",
                    "text": "Many cores run the same arithmetic in parallel.",
                    "weight": 2,
                },
                {"id": "k2", "text": "Used to train neural networks.", "weight": 0.5},
            ],
        },
    ],
}


def _write(tmp_path: Path, data: object, name: str = "d.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _broken(change) -> dict:
    data = copy.deepcopy(VALID)
    change(data)
    return data


@pytest.fixture(scope="module")
def seed_set() -> RubricSet:
    doc = compile_markdown(SEED.read_text(encoding="utf-8"), "seed.md", "llm-training")
    return RubricSet([doc])


# ---------------------------------------------------------------------------- schema


def test_valid_file_loads_with_defaults(tmp_path: Path) -> None:
    doc = load_document(_write(tmp_path, VALID))
    q2 = doc.rubrics[1]
    assert [k.weight for k in q2.key_points] == [2.0, 0.5]
    assert q2.language == "zh" and q2.misconceptions == [] and q2.duplicate_of is None
    assert doc.rubrics[0].key_points[0].weight == 1.0


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (
            lambda d: d["rubrics"][1].pop("reference_answer"),
            "question d-q2 field 'reference_answer'",
        ),
        (
            lambda d: d["rubrics"][1]["key_points"][0].update(text=""),
            "question d-q2 field 'key_points.0.text'",
        ),
        (
            lambda d: d["rubrics"][1]["key_points"][1].update(weight=0),
            "question d-q2 field 'key_points.1.weight'",
        ),
        (lambda d: d["rubrics"][0].update(quesiton="typo"), "question d-q1 field 'quesiton'"),
        (lambda d: d["rubrics"][1].pop("id"), "question #2 field 'id'"),
        (lambda d: d["rubrics"][0].update(language="fr"), "question d-q1 field 'language'"),
        (lambda d: d.update(rubrics=[]), "field 'rubrics'"),
    ],
)
def test_schema_errors_name_file_question_and_field(tmp_path: Path, change, where: str) -> None:
    path = _write(tmp_path, _broken(change))
    with pytest.raises(RubricError) as err:
        load_document(path)
    message = str(err.value)
    assert message.startswith(f"{path}:")
    assert where in message
    assert "\n" not in message


def test_duplicate_ids_are_schema_errors(tmp_path: Path) -> None:
    same_kp = _broken(lambda d: d["rubrics"][1]["key_points"][1].update(id="k1"))
    with pytest.raises(
        RubricError, match=r"question d-q2 .*duplicate key point / misconception ids: k1"
    ):
        load_document(_write(tmp_path, same_kp))
    same_rubric = _broken(lambda d: d["rubrics"][1].update(id="d-q1"))
    with pytest.raises(RubricError, match="duplicate rubric ids: d-q1"):
        load_document(_write(tmp_path, same_rubric))


def test_unreadable_files_are_one_line_errors(tmp_path: Path) -> None:
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("document: d\nrubrics: [\n  - id: [\n", encoding="utf-8")
    with pytest.raises(RubricError, match=r"bad\.yaml: line \d+ is not valid YAML"):
        load_document(bad_yaml)
    with pytest.raises(RubricError, match="expected a mapping"):
        load_document(_write(tmp_path, ["a", "list"]))
    with pytest.raises(RubricError, match="cannot read rubric file"):
        load_document(tmp_path / "missing.yaml")


def test_dump_and_load_round_trip_keeps_the_hashes(tmp_path: Path) -> None:
    doc = compile_markdown(SEED.read_text(encoding="utf-8"), "seed.md", "llm-training")
    path = tmp_path / "llm-training.yaml"
    path.write_text(dump_document(doc), encoding="utf-8")
    again = load_document(path)
    assert again == doc
    assert again.rubrics_hash() == doc.rubrics_hash() == doc.build_hash
    assert [r.content_hash() for r in again.rubrics] == [r.content_hash() for r in doc.rubrics]
    assert "大模型训练" in dump_document(doc)  # Chinese stays readable, not \u-escaped


def test_rubrics_hash_changes_with_an_edit() -> None:
    doc = RubricDocument.model_validate(VALID)
    edited = copy.deepcopy(VALID)
    edited["rubrics"][0]["key_points"][0]["weight"] = 2
    assert RubricDocument.model_validate(edited).rubrics_hash() != doc.rubrics_hash()


# ---------------------------------------------------------------------------- loading sets


def test_load_rubrics_from_file_and_directory(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID)
    assert [r.id for r in load_rubrics(path)] == ["d-q1", "d-q2"]
    other = copy.deepcopy(VALID)
    other["document"] = "e"
    for r in other["rubrics"]:
        r["id"] = r["id"].replace("d-", "e-")
    _write(tmp_path, other, "e.yaml")
    assert len(load_rubrics(tmp_path)) == 4
    with pytest.raises(RubricError, match="no such rubric file or directory"):
        load_rubrics(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RubricError, match="no rubric files"):
        load_rubrics(empty)


def test_the_same_id_in_two_files_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, VALID, "a.yaml")
    copy_ = copy.deepcopy(VALID)
    copy_["document"] = "b"
    _write(tmp_path, copy_, "b.yaml")
    with pytest.raises(RubricError, match="rubric id 'd-q1' appears in two files"):
        load_rubrics(tmp_path)


# ---------------------------------------------------------------------------- find


@pytest.mark.parametrize(
    ("query", "rubric_id"),
    [
        ("5", "llm-training-q5"),
        ("Q5", "llm-training-q5"),
        ("第5题", "llm-training-q5"),  # the heading grammar of numbering.py
        ("问题5", "llm-training-q5"),
        ("Question 5", "llm-training-q5"),
        (5, "llm-training-q5"),
        ("llm-training-q7", "llm-training-q7"),
        ("批量归一化", "llm-training-q7"),  # Chinese title words
        ("模型蒸馏", "llm-training-q11"),
        ("Batch Normalization", "llm-training-q7"),  # English words, any case
        ("learning rate scheduling", "llm-training-q24"),
        ("model distilation", "llm-training-q11"),  # a typo still finds it
    ],
)
def test_find_by_number_id_and_title_words(seed_set: RubricSet, query, rubric_id: str) -> None:
    assert seed_set.find(query).id == rubric_id


def test_find_ambiguous_words_list_the_candidates(seed_set: RubricSet) -> None:
    with pytest.raises(QuestionNotFound) as err:
        seed_set.find("迁移学习")
    message = str(err.value)
    assert message.startswith("'迁移学习' matches several questions — did you mean: ")
    assert "14. 什么是迁移学习" in message and "28. 什么是迁移学习" in message


def test_find_nothing_lists_close_matches(seed_set: RubricSet) -> None:
    with pytest.raises(QuestionNotFound) as err:
        seed_set.find("如何优化计算速度")
    message = str(err.value)
    assert message.startswith("'如何优化计算速度' matches no question — did you mean: ")
    assert "2. 如何优化大模型训练的计算性能？" in message


def test_find_with_no_close_match_points_to_the_list(seed_set: RubricSet) -> None:
    for query in ("42", "???"):
        with pytest.raises(QuestionNotFound, match=r"matches no question — run `evaluator list`"):
            seed_set.find(query)


def test_find_number_ambiguous_across_documents() -> None:
    a = RubricDocument.model_validate(VALID)
    other = copy.deepcopy(VALID)
    other["document"] = "e"
    for r in other["rubrics"]:
        r["id"] = r["id"].replace("d-", "e-")
    both = RubricSet([a, RubricDocument.model_validate(other)])
    with pytest.raises(
        QuestionNotFound, match="question 1 is ambiguous across documents: d-q1, e-q1"
    ):
        both.find("1")
    assert both.find("e-q1").id == "e-q1"


def test_one_chinese_character_off_is_suggested_not_accepted(seed_set: RubricSet) -> None:
    with pytest.raises(QuestionNotFound) as err:
        seed_set.find("如何处理模型欠拟合？")  # under-, not over-fitting (Q8)
    assert "matches no question — did you mean: 8. 如何处理模型过拟合" in str(err.value)
    assert seed_set.find("批量归一化的作用").id == "llm-training-q7"  # only filler is missing


def test_words_shared_with_a_marked_duplicate_find_the_original() -> None:
    curated = load_rubrics(REPO / "rubrics")
    assert curated.find("迁移学习").id == "llm-training-q14"
    assert curated.find("transfer learning").id == "llm-training-q14"
