"""Segmentation, normalisation and content tokens (evaluator/text.py)."""

from __future__ import annotations

from evaluator.result import Flag
from evaluator.rubrics.adhoc import adhoc_rubric
from evaluator.scoring.grader import Grader
from evaluator.scoring.prepare import MAX_UNITS
from evaluator.settings import Settings
from evaluator.text import (
    ANSWER_UNITS,
    KEY_POINT_SENTENCES,
    MAX_UNIT_CHARS,
    clauses,
    content_tokens,
    detect_language,
    embedding_text,
    examples,
    is_blank,
    normalise,
    split_sentences,
    split_units,
    visible_length,
    windows,
)


def test_chinese_sentences_split_on_chinese_punctuation() -> None:
    text = "分布式训练可以提高计算能力。但是通信开销很大！同步也是一个问题？数据一致性；容错。"
    assert split_units(text) == [
        "分布式训练可以提高计算能力。",
        "但是通信开销很大！",
        "同步也是一个问题？",
        "数据一致性；容错。",  # "容错。" alone is too short and joins its neighbour
    ]


def test_english_sentences_split_but_abbreviations_do_not_end_them() -> None:
    text = "Dropout randomly drops units. It reduces co-adaptation. See e.g. the 2014 paper."
    assert split_units(text) == [
        "Dropout randomly drops units.",
        "It reduces co-adaptation.",
        "See e.g. the 2014 paper.",
    ]


def test_decimal_points_and_versions_do_not_split() -> None:
    assert split_units("Python 3.11 uses about 1.5 GB here. Fine.") == [
        "Python 3.11 uses about 1.5 GB here. Fine."
    ]


def test_mixed_chinese_and_english() -> None:
    units = split_units("GPU 加速很重要. Mixed precision 也很有用。用 FP16 计算!")
    assert units == ["GPU 加速很重要.", "Mixed precision 也很有用。", "用 FP16 计算!"]


def test_bullets_and_markup_are_stripped() -> None:
    text = "- **正则化：** 加 L2 惩罚\n* `dropout`：随机丢弃神经元\n+ 数据增强扩充样本\n• 早停法防止过拟合"
    assert split_units(text) == [
        "正则化： 加 L2 惩罚",
        "dropout：随机丢弃神经元",
        "数据增强扩充样本",
        "早停法防止过拟合",
    ]


def test_numbered_items_in_every_common_style() -> None:
    text = (
        "1. 过采样少数类\n2) 欠采样多数类\n（3）SMOTE 合成样本\n４、代价敏感学习\n五、集成学习方法"
    )
    assert split_units(text) == [
        "过采样少数类",
        "欠采样多数类",
        "SMOTE 合成样本",
        "代价敏感学习",
        "集成学习方法",
    ]


def test_short_lead_in_joins_the_next_unit() -> None:
    assert split_units("例如：\n旋转图像，裁剪图像。") == ["例如：旋转图像，裁剪图像。"]


def test_unpunctuated_wall_is_cut_into_bounded_units() -> None:
    wall = "，".join(["梯度累积可以得到更大的有效批量"] * 200)
    units = split_units(wall)
    assert len(units) > 1
    assert all(len(u) <= MAX_UNIT_CHARS for u in units)
    assert "".join(u.replace(" ", "") for u in units) == wall.replace(" ", "")


def test_max_units_keeps_the_first_units() -> None:
    text = "。".join(f"第{i}条要点说明内容" for i in range(50)) + "。"
    assert split_units(text, max_units=3) == split_units(text)[:3]


def test_blank_and_punctuation_only_answers() -> None:
    for text in ["", "   ", "\n\t\u3000", "。。。", "——", "...!!"]:
        assert is_blank(text)
        assert split_units(text) == []
    assert not is_blank("a")
    assert not is_blank("对")


# ---------------------------------------------------------------------------- split_sentences


def test_split_units_is_split_sentences_with_the_answer_rules() -> None:
    text = "Dropout randomly drops units. It reduces co-adaptation; 训练更稳定…用 FP16!"
    assert split_units(text) == split_sentences(text, ANSWER_UNITS) == split_sentences(text)


def test_key_point_sentences_are_whole_sentences() -> None:
    text = "数据增强可以扩充训练样本；提高模型的泛化能力。他说：“这样更稳。”GPU 很快.并行计算"
    # Answers cut at the semicolon, before the closing quote and at an ASCII full stop next to a
    # Chinese character; key points do none of these.
    assert split_sentences(text, KEY_POINT_SENTENCES) == [
        "数据增强可以扩充训练样本；提高模型的泛化能力。",
        "他说：“这样更稳。”",
        "GPU 很快.并行计算",
    ]
    assert split_sentences(text) == [
        "数据增强可以扩充训练样本；",
        "提高模型的泛化能力。",
        "他说：“这样更稳。",
        "”GPU 很快.",
        "并行计算",
    ]


def test_key_point_sentences_merge_short_ones_and_keep_what_keep_allows() -> None:
    text = "是的。过拟合是模型记住了训练数据中的噪声。它很常见。其原因包括："
    assert split_sentences(text, KEY_POINT_SENTENCES, keep=lambda s: not s.endswith("：")) == [
        "是的。过拟合是模型记住了训练数据中的噪声。它很常见。"
    ]
    # A short sentence joins with a space unless next to a CJK character.
    assert split_sentences("Yes. Overfitting fits the noise.", KEY_POINT_SENTENCES) == [
        "Yes. Overfitting fits the noise."
    ]


def test_abbreviations_do_not_end_sentences_under_either_rules() -> None:
    text = "See e.g. the 2014 paper, approx. three pages. Then fig. 3 shows it."
    assert split_sentences(text) == [
        "See e.g. the 2014 paper, approx. three pages.",
        "Then fig. 3 shows it.",
    ]
    assert split_sentences("数据增强的方法e.g. 旋转和裁剪等。", KEY_POINT_SENTENCES) == [
        "数据增强的方法e.g. 旋转和裁剪等。"
    ]


def test_sentences_that_say_nothing_are_dropped_from_answers_only() -> None:
    assert split_sentences("……") == []
    assert split_sentences("Ωμέγα.", KEY_POINT_SENTENCES) == ["Ωμέγα."]


def test_normalise_unifies_line_breaks_and_spaces() -> None:
    assert normalise("\ufeffa\r\nb\rc\u3000\u3000d\xa0 e  ") == "a\nb\nc d e"


def test_windows_join_adjacent_units() -> None:
    assert windows(["a", "b", "c"]) == ["a b", "b c"]
    assert windows(["a"]) == []
    assert windows(["a", "b", "c"], size=3) == ["a b c"]
    assert windows(["a", "b"], size=1) == []


def test_visible_length_counts_cjk_double() -> None:
    assert visible_length("ab 12") == 4
    assert visible_length("模型") == 4
    assert visible_length("，。!") == 0


def test_content_tokens_english_stems_and_stopwords() -> None:
    tokens = content_tokens("The compiler initializes the objects using Constructors.")
    assert tokens == {"comp", "init", "obje", "usin", "cons"}
    # Inflections meet on the same stem; numbers stay whole; single letters are dropped.
    assert content_tokens("initialization") == content_tokens("initialize")
    assert content_tokens("O(1) and 12 x") == {"1", "12"}


def test_content_tokens_chinese_bigrams() -> None:
    assert content_tokens("模型蒸馏") == {"模型", "型蒸", "蒸馏"}
    assert content_tokens("栈") == {"栈"}
    assert content_tokens("GPU 加速") == {"gpu", "加速"}


def test_detect_language_counts_a_latin_word_as_two_characters() -> None:
    assert detect_language("批量归一化（Batch Normalization）是一种归一化技术。") == "zh"
    assert detect_language("Batch normalization normalises activations.") == "en"
    assert detect_language("Transfer learning (迁移学习) reuses what a model learned.") == "en"
    # Chinese prose with English terms is Chinese: 5 CJK characters against 2 words (4).
    assert detect_language("正则化防止 overfitting regularization") == "zh"
    assert detect_language("") == "en"


def test_adhoc_rubrics_use_the_same_language_detector() -> None:
    """The compiler and ad-hoc rubrics once disagreed on this text (zh vs en)."""
    assert adhoc_rubric("", "正则化防止 overfitting regularization").language == "zh"
    assert adhoc_rubric("What is dropout?", "It drops units at random.").language == "en"


def test_very_long_answer_is_graded_in_bounded_time() -> None:
    """A 100k-character answer: segmentation and grading stay bounded (MAX_UNITS)."""
    answer = ("模型蒸馏用教师模型的软标签训练学生模型。" * 5000)[:100_000]
    assert len(answer) == 100_000
    units = split_units(answer)
    rubric = adhoc_rubric("什么是模型蒸馏？", "模型蒸馏用教师模型的软标签训练学生模型。")
    grade = Grader("hashing", settings=Settings(use_cache=False)).grade(rubric, answer)
    assert len(units) > MAX_UNITS
    assert Flag.TRUNCATED in grade.flags
    assert sum(1 for k in grade.key_points if k.evidence) == 1
    assert grade.score > 90


def test_examples_are_a_key_points_listed_alternatives() -> None:
    assert examples("给出具体的增强方式，如图像旋转、缩放、随机裁剪、添加噪声，或文本的回译。") == [
        "图像旋转", "缩放", "随机裁剪", "添加噪声", "文本的回译",
    ]  # fmt: skip
    assert examples("Formats such as TFRecord, Parquet or WebDataset.") == [
        "TFRecord", "Parquet", "WebDataset",
    ]  # fmt: skip
    # Two items are an aside, not a list of alternatives.
    assert examples("对抗样本（如 FGSM、PGD）。") == []


def test_embedding_text_makes_ascii_punctuation_in_chinese_full_width() -> None:
    assert embedding_text("训练时间大幅缩短.难点:一是通信,二是同步 (GPU 之间).") == (
        "训练时间大幅缩短。难点：一是通信，二是同步（GPU 之间）。"
    )
    # English and numbers are left as they are.
    assert embedding_text("version 3.5, fine (really).") == "version 3.5, fine (really)."
    assert embedding_text("速度 2.5 倍") == "速度 2.5 倍"


def test_clauses_split_at_commas_not_inside_a_list() -> None:
    """、 joins the items of one list ("同等规模、从头训练的模型"): a cut there leaves a half
    clause that matches a wrong claim ("学生模型通常比同等规模、" read as "比教师模型更大")."""
    units = ["学生模型通常比同等规模、从头训练的模型效果更好，能接近教师模型的性能。"]
    assert clauses(units) == [
        "学生模型通常比同等规模、从头训练的模型效果更好，",
        "能接近教师模型的性能。",
    ]
