"""The FAQ on questions nobody tuned it to (issue 10): function words, the out-of-scope gate,
per-language idf, typos, synonyms and near twins, on the ward's real FAQ.

The questions here are not in the evaluation files (bench/data/faq_*.json); each says what
general behaviour it stands for.
"""

from __future__ import annotations

import json

import pytest

from chalicelib.domain.faq import (
    ANSWER,
    CONFIDENT,
    FAQ_PATH,
    NO_MATCH,
    RIVAL,
    URGENT_ENTRY,
    FaqIndex,
    Params,
    _spanning_grams,
    content,
    load_examples,
    load_index,
    load_out_of_scope,
    normalize,
    terms,
)


@pytest.fixture(scope="module")
def ward_index():
    return load_index()


def top(index, text, language):
    hits = index.search(text, language)
    return hits[0].entry_id if hits else None


# --- function words -------------------------------------------------------------------------


def test_a_function_word_counts_as_a_word_but_gets_no_character_trigrams():
    cut = terms("register my new bike")
    assert "w:my" in cut and "w:register" in cut
    assert not [term for term in cut if term.startswith("t:") and "my" in term]
    assert "t:^re" in cut


def test_what_a_question_is_about_leaves_the_function_words_out():
    assert content(normalize("how much is an iphone")) == "iphone"
    assert content(normalize("इन्स्टाग्राममा कसरी दर्ता गर्ने")).split() == ["इन्स्टाग्राममा", "दर्ता"]


def test_chinese_and_korean_function_words_are_terms_of_their_own_that_no_ngram_spans():
    korean = terms("쓰레기 버리는 방법")
    assert "f:방법" in korean
    assert not [term for term in korean if "방" in term and not term.startswith("f:")]
    chinese = terms("垃圾什么时候收")
    assert "f:什么时候" in chinese and "圾什" not in chinese
    # Japanese keeps them inside its n-grams: they bridge conjugations (登録したい, 登録をしたい).
    assert "録し" in terms("印鑑を登録したい")


# --- the out-of-scope gate ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("asdfgh qwerty", "en"),  # keyboard mash
        ("jkjkjk haha", "vi"),
        ("ｗｗｗｗｗ", "ja"),  # laughter
        ("ㅋㅋㅋ ㅎㅎ", "ko"),
        ("哈哈哈哈哈", "zh-Hans"),
        ("ङ्झ्ञ्ट्ठ", "ne"),  # consonant clusters, no word
        ("netflix", "en"),  # a thing the FAQ never mentions
        ("how much is an iphone", "en"),  # "how much" is a function word: only the iPhone is asked about
    ],
)
def test_a_question_about_nothing_the_faq_mentions_gets_no_hit_at_all(ward_index, text, language):
    hits = ward_index.search(text, language)
    assert hits == []
    assert ward_index.decide(hits) == (NO_MATCH, [])


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("kể chuyện ma đi", "vi"),  # a ghost story: "chuyện" and "đi" are the FAQ's words too
        ("mở tài khoản tiktok", "vi"),  # "tài khoản" is the bank account of direct debit
        ("điện thoại hỏng sửa ở đâu", "vi"),  # a broken phone, not paying tax by smartphone
        ("スマホの画面が割れた", "ja"),
    ],
)
def test_a_question_that_reads_like_what_the_ward_does_not_answer_is_not_answered(ward_index, text, language):
    # Where the phrasing that leads matches only words an entry has too ("tài khoản", "スマホ"),
    # the entries stay hits, outscored by it: the resident is still offered a person.
    assert ward_index.decide(ward_index.search(text, language)) == (NO_MATCH, [])


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("where can I buy bulky waste tickets", "en", "garbage-bulky-ticket"),
        ("can I pay my resident tax with my smartphone", "en", "tax-smartphone-payment"),
        ("can I feed stray cats", "en", "pet-cats"),
        ("nộp thuế cư trú bằng điện thoại được không", "vi", "tax-smartphone-payment"),
    ],
)
def test_the_same_words_in_the_wards_sense_are_still_answered(ward_index, text, language, expected):
    hits = ward_index.search(text, language)
    assert ward_index.decide(hits) == (ANSWER, hits[:1])
    assert hits[0].entry_id == expected


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("where can I buy a cheap fridge", "en"),  # the fridge entry is about throwing one away
        ("冷蔵庫を安く買いたい", "ja"),
        ("mua tủ lạnh ở đâu rẻ", "vi"),
        ("सस्तो फ्रिज कहाँ किन्ने", "ne"),
        ("sửa xe đạp ở đâu", "vi"),  # repairing a bicycle: the ward removes, registers and takes them
        ("where can I buy a dog", "en"),  # the dog entry is left out, and no weaker one answers instead
    ],
)
def test_buying_or_repairing_a_thing_the_faq_throws_away_or_registers_is_not_answered(
    ward_index, text, language
):
    assert ward_index.decide(ward_index.search(text, language))[0] == NO_MATCH


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("I bought a new fridge, how do I get rid of the old one", "en", "garbage-home-appliances"),
        ("I bought a bicycle, how do I register it", "en", "bicycle-registration"),
        ("粗大ごみ処理券はどこで売っていますか", "ja", "garbage-bulky-ticket"),  # sold is bought
        ("please fix the broken streetlight", "en", "road-streetlight"),  # the ward repairs these
        ("đèn đường hỏng ai sửa chữa", "vi", "road-streetlight"),
    ],
)
def test_an_entry_that_names_the_action_or_the_wards_action_beside_it_still_answers(
    ward_index, text, language, expected
):
    hits = ward_index.search(text, language)
    assert ward_index.decide(hits) == (ANSWER, hits[:1])
    assert hits[0].entry_id == expected


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("any good curry place near the ward office?", "en"),  # "ward office" led to its opening hours
        ("区役所の近くでおすすめのランチ", "ja"),
        ("구청 근처 맛집 추천", "ko"),
        ("区役所附近有什么好吃的", "zh-Hans"),
    ],
)
def test_a_recommendation_or_a_taste_is_not_answered(ward_index, text, language):
    assert ward_index.decide(ward_index.search(text, language))[0] == NO_MATCH


def test_a_recommendation_beside_the_wards_own_action_still_finds_the_entry(ward_index):
    assert top(ward_index, "is there a recommended way to throw away batteries", "en") == (
        "garbage-batteries-spray-cans"
    )


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("墨田区の粗大ごみシールはいくら", "ja"),  # Katsushika's fee would be a wrong answer
        ("garbage days in sumida ward", "en"),
        ("ở sumida-ku thì vứt rác khi nào", "vi"),  # "vứt" (throw away), a ward action, keeps no entry
        ("松户市的可燃垃圾星期几收", "zh-Hans"),
        ("스미다구 대형쓰레기 스티커 얼마예요", "ko"),
    ],
)
def test_a_question_about_another_municipalitys_rules_is_not_answered(ward_index, text, language):
    assert ward_index.decide(ward_index.search(text, language))[0] == NO_MATCH


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("moving to Chiba city next month, what do I file", "en", "moving-out"),
        ("墨田区から引っ越してきた 転入届はいつまで", "ja", "moving-in"),
    ],
)
def test_another_municipality_one_moves_from_or_to_is_about_katsushika(ward_index, text, language, expected):
    assert top(ward_index, text, language) == expected


def test_a_word_only_the_out_of_scope_phrasings_use_is_still_unknown_to_the_faq(ward_index):
    # "weather" is in the out-of-scope phrasings, in no entry: a question made of it and a
    # FAQ word is half about something the FAQ does not know.
    novelty, known = ward_index._novelty(normalize("sofa weather"), 0, syllables=False)
    assert known and novelty > 0.3


def test_a_question_of_function_words_only_is_not_gated_but_never_answered(ward_index):
    hits = ward_index.search("how much?", "en")
    assert hits  # not judged out of scope: nothing in it to judge by
    assert ward_index.decide(hits)[0] != ANSWER


def test_an_ngram_that_only_spans_a_space_is_found_and_counts_half():
    # ごみを だす still matches ごみをだす (same terms), but its bridge grams weigh less.
    assert _spanning_grams("ごみを だす", terms("ごみを だす"), Params()) == {"を出", "を出す", "みを出"}
    assert _spanning_grams("ごみをだす", terms("ごみをだす"), Params()) == set()
    assert Params().spanning_weight == 0.5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Spaced easy Japanese: bridges such as のか and かど (particle to word) matched noise in
        # unrelated entries and put them ahead of the right one.
        ("ビール の かん、 どう する？", "garbage-recyclables"),
        ("いぬ の なまえ を かえた い", "pet-dog-changes"),
    ],
)
def test_spaced_easy_japanese_is_found_on_its_words(ward_index, text, expected):
    hits = ward_index.search(text, "ja-easy")
    assert hits[0].entry_id == expected
    assert hits[0].score > hits[1].score


def test_a_kanji_alone_is_known_by_its_unigram(ward_index):
    assert ward_index.search("狗", "zh-Hans")


# --- words, typos and synonyms --------------------------------------------------------------


def test_a_words_idf_is_counted_within_its_language(ward_index):
    english = ward_index._language_idf["en"]
    # "dispose" stands in most English garbage entries, "sofa" in few: in English, sofa decides.
    assert english["w:dispose"] < english["w:sofa"] - 0.5
    assert top(ward_index, "how do I dispose of a sofa", "en") == "garbage-bulky-apply"


def test_a_typo_keeps_its_first_letter(ward_index):
    assert ward_index._correct("close") == ("close", 0)  # not "lose", which the FAQ knows
    assert ward_index._correct("bateries") == ("batteries", 1)
    assert top(ward_index, "need to chnage my adress", "en") == "moving-within-ward"


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("how do i get rid of my fridge", "en", "garbage-home-appliances"),  # fridge
        ("is the doctor free for kids", "en", "childcare-medical-subsidy"),  # doctor, kids
        ("床垫怎么扔", "zh-Hans", "garbage-bulky-apply"),  # an item the FAQ lists by its garbage type
        ("冰箱怎么处理掉", "zh-Hans", "garbage-home-appliances"),
        ("老公对我动手", "zh-Hans", "consultation-women"),  # 老公 is 丈夫
        ("매트리스 버리고 싶어요", "ko", "garbage-bulky-apply"),
        ("마이넘버카드가 없어졌어요", "ko", "mynumber-lost"),  # 없어졌 is 잃어버렸
        ("保健証が届かない", "ja", "insurance-nhi-card"),  # a common kanji slip
        ("乾電池の捨て方", "ja", "garbage-batteries-spray-cans"),
    ],
)
def test_everyday_words_find_the_faqs_entry(ward_index, text, language, expected):
    assert top(ward_index, text, language) == expected


# --- near twins and one common word ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("I got a job at a company, how do I cancel kokuho", "en", "insurance-nhi-leave"),
        ("国保に入りたい 会社やめた", "ja", "insurance-nhi-join"),
        ("就職したので国保をやめたい", "ja", "insurance-nhi-leave"),
        ("what day is garbage day in my area", "en", "garbage-collection-days"),
        ("when is the burnable trash day", "en", "garbage-burnable"),
        ("燃えるごみの日", "ja", "garbage-burnable"),
    ],
)
def test_near_twins_are_told_apart(ward_index, text, language, expected):
    hits = ward_index.search(text, language)
    assert hits[0].entry_id == expected
    decision, shown = ward_index.decide(hits)
    assert decision != NO_MATCH
    assert shown[0].entry_id == expected


def test_a_question_two_entries_answer_ranks_the_right_one_first_and_answers_neither(ward_index):
    # Losing one's job is why residents join the NHI and why they ask for its reduction; since
    # the sixteenth batch's examples say so, this question is too close to call: join first,
    # never an answer (it used to be suggested; now it is offered to a person).
    hits = ward_index.search("lost my job, need national health insurance", "en")
    assert [hit.entry_id for hit in hits[:2]] == ["insurance-nhi-join", "insurance-nhi-reduction"]
    assert ward_index.decide(hits)[0] != ANSWER


@pytest.mark.parametrize(
    ("text", "expected", "not_this"),
    [
        (
            "how to register my new bike",
            "bicycle-registration",
            "seal-registration",
        ),  # "register my" is the seal's
        # and "replace my phone battery", which outscores the entry on "battery" alone, adds
        # nothing the entry lacks: it does not reject the question (_beyond_the_entries)
        ("where do I throw dead batteries", "garbage-batteries-spray-cans", "pet-dead-animal"),
    ],
)
def test_one_common_word_does_not_pull_to_another_entry(ward_index, text, expected, not_this):
    hits = ward_index.search(text, "en")
    assert hits[0].entry_id == expected
    assert not_this not in [hit.entry_id for hit in ward_index.decide(hits)[1]]


def test_a_phone_battery_is_thrown_away_as_a_battery_but_replacing_one_is_not_the_wards(ward_index):
    # The out-of-scope "replace my phone battery" matched "phone", which the batteries entry
    # lacked, and so rejected every question about throwing a phone battery away.
    hits = ward_index.search("where do i throw away an old phone battery", "en")
    decision, shown = ward_index.decide(hits)
    assert decision != NO_MATCH
    assert shown[0].entry_id == "garbage-batteries-spray-cans"
    replacing = ward_index.search("how much to replace an iphone battery", "en")
    assert ward_index.decide(replacing)[0] == NO_MATCH


# --- English inside romanised Nepali, other wards after a preposition ------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("purano battery kaha phalne ho", "garbage-batteries-spray-cans"),
        ("LINE ko notification rokna kasari garne", "line-stop"),
    ],
)
def test_an_english_word_in_romanised_nepali_finds_the_entry(ward_index, text, expected):
    """A Nepali resident typing in Latin letters writes the English word the Nepali entry spells
    in Devanagari: the entry's English keywords are in its romanised Nepali document."""
    assert top(ward_index, text, "ne") == expected
    data = json.loads(FAQ_PATH.read_text(encoding="utf-8"))
    without = FaqIndex.from_data(data, Params(english_in_nepali=0.0), load_out_of_scope(), load_examples())
    assert ward_index.search(text, "ne")[0].confidence > without.search(text, "ne")[0].confidence


@pytest.mark.parametrize(
    ("text", "language"),
    [("when is burnable garbage in setagaya", "en"), ("rác cháy được ở Nerima ngày nào", "vi")],
)
def test_another_wards_name_after_in_is_not_katsushikas_question(ward_index, text, language):
    assert ward_index.decide(ward_index.search(text, language))[0] == NO_MATCH


def test_two_entries_both_likely_are_offered_side_by_side(ward_index):
    hits = ward_index.search("可以在便利店打印住民票吗", "zh-Hans")  # the service, or its hours?
    action, shown = ward_index.decide(hits)
    assert hits[0].confidence >= CONFIDENT and hits[1].confidence >= RIVAL
    assert action != ANSWER and len(shown) >= 2


# --- an emergency is never "no match" --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("there is a fire, who should i call", "en"),
        ("かじ です。どこに でんわ しますか", "ja-easy"),
        ("आगो लाग्यो कसलाई फोन गर्ने", "ne"),
        ("nhà bên cạnh bị cháy gọi số nào", "vi"),
        ("कोही ढलेको छ", "ne"),
        ("有人晕倒了", "zh-Hans"),
        ("my father collapsed and he is not responding", "en"),
        ("my baby is choking", "en"),
        ("母が息ができなくなった", "ja"),
        ("今、隣の家から煙が出てて火が見えます！", "ja"),  # the seventh outside set: no 火事, a fire
        ("たすけて ください。いま ともだちが たおれました。いきを して いません", "ja-easy"),
        # A re-test: polite forms and other wordings of the same three (not breathing, bleeding, a fire).
        ("友達が息をしていません", "ja"),
        ("大量に出血しています", "ja"),
        ("血が止まりません", "ja"),
        ("隣の家が燃えています", "ja"),
        ("I can see a fire in the building next door", "en"),
        ("heavy bleeding from his leg", "en"),
        ("my friend stopped breathing", "en"),
        ("친구가 숨을 쉬지 않아요", "ko"),
        ("我看到火了", "zh-Hans"),
        ("Bạn tôi không thở", "vi"),
        ("मेरो साथी सास फेर्दैन", "ne"),
        # The eighth outside set and its re-test: Vietnamese without its marks, romanised Nepali.
        ("ban cung phong em bi dao dam, chay mau nhieu lam", "vi"),
        ("chay nha roi, cuu em voi", "vi"),
        ("ong em dot quy roi, cuu em voi", "vi"),
        ("mero sathi behos bhayo, saas ferna sakena", "ne"),
        ("bato ma durghatana bhayo", "ne"),
        # The ninth outside set: whoever collapsed, however it is said; smoke; a crime now.
        ("父が急に倒れて呼びかけても返事しない！息もしてないかも", "ja"),
        ("おばあちゃんが階段から落ちて動かない", "ja"),
        ("駅で男が包丁を振り回してる", "ja"),
        ("知らない男が家に入ってきた", "ja"),
        ("たすけて となりの いえから けむり でてる", "ja-easy"),
        ("へんな ひと が いえ に はいって きた", "ja-easy"),
        ("someone is breaking into my neighbor's apartment right now, i can hear glass smashing", "en"),
        ("my dad collapsed and won't wake up", "en"),
        ("a man with a knife is threatening people at the station", "en"),
        ("楼下有个老人倒在地上不动了，怎么办！", "zh-Hans"),
        ("家里进小偷了", "zh-Hans"),
        ("옆집에서 연기 엄청 나요 불난듯!!", "ko"),
        ("칼을 든 남자가 있어요", "ko"),
        ("có người đang bị đánh ngoài đường, hắn cầm dao", "vi"),
        ("nhà bên cạnh bốc khói", "vi"),
        ("घरमा चोर पस्यो", "ne"),
        ("बुबा ढल्नुभयो, होस छैन", "ne"),
        # Its re-test: a crime happening now (an intruder, a beating, a thief running away).
        ("今、家の前で男が人を殴っている", "ja"),
        ("泥棒が今家に入っている", "ja"),
        ("知らない男が家の中にいる", "ja"),
        ("いま男に追いかけられています", "ja"),
        ("今ひったくりにあって犯人が逃げています", "ja"),
        ("A thief is in my house right now", "en"),
        ("Someone is attacking my neighbour right now", "en"),
        ("Someone just snatched my bag and is running away", "en"),
        ("有人在打我", "zh-Hans"),
        ("我邻居正在被人打", "zh-Hans"),
        ("도둑이 집에 있어요", "ko"),
        ("지금 누가 제 가방을 훔쳐서 도망가고 있어요", "ko"),
        ("Có người lạ đang ở trong nhà tôi", "vi"),
        ("co khoi o nha ben canh", "vi"),
        ("अहिले कोही मेरो घरमा चोरी गर्दैछ", "ne"),
        ("mero buba dhalnu bhayo, sas ferdainan", "ne"),
        # A confident answer of another entry no longer hides who to call.
        ("有陌生人在我家里", "zh-Hans"),
        # A review: an everyday word (ごみ, 窓口, company, class, insurance) silenced an emergency.
        ("火事です！ごみ置き場が燃えています", "ja"),
        ("隣の家から煙が出ています。窓口はどこ", "ja"),
        ("someone is breaking into my house right now, my insurance company number?", "en"),
        ("smoke coming from the company building next door", "en"),
        ("a man with a knife in my son's class", "en"),
        ("有人拿着刀在窗口大喊", "zh-Hans"),
        # An outside set: gas smelt, a child or an elder missing, water coming in, a break-in tried.
        ("アパートの廊下がすごくガス臭いです", "ja"),
        ("it smells like gas in my kitchen", "en"),
        ("厨房里有很重的燃气味", "zh-Hans"),
        ("집에서 가스 냄새가 심하게 나요", "ko"),
        ("trong bếp có mùi gas rất nặng", "vi"),
        ("भान्सामा ग्यासको गन्ध आयो", "ne"),
        ("5歳の息子が公園でいなくなった", "ja"),
        ("認知症の母が家からいなくなりました", "ja"),
        ("こども が まいご に なった", "ja-easy"),
        ("my 4 year old has gone missing at the mall", "en"),
        ("I can't find my son anywhere", "en"),
        ("我女儿在商场走丢了", "zh-Hans"),
        ("할머니가 실종됐어요", "ko"),
        ("con em bị lạc ở công viên", "vi"),
        ("मेरो छोरा हरायो", "ne"),
        ("一階が浸水してきています", "ja"),
        ("water is pouring into our ground floor", "en"),
        ("水已经灌进家里了", "zh-Hans"),
        ("집 안으로 물이 들어와요", "ko"),
        ("nước đang tràn vào nhà tôi", "vi"),
        ("घरमा पानी पस्यो", "ne"),
        ("a man is trying to break into my car right now", "en"),
        ("someone is kicking down our door", "en"),
        ("cứu với có người đang đuổi theo em", "vi"),
        # Two more outside sets: a car hitting someone, a threat of suicide, a dementia patient
        # gone, water rising to the floor, someone not responding (phrased here anew).
        ("交差点でトラックが自転車の人をはねた", "ja"),
        ("a taxi just knocked down an old man outside the station", "en"),
        ("路口有辆电动车撞倒了一个小孩", "zh-Hans"),
        ("오토바이에 치였어요 빨리 와 주세요", "ko"),
        ("vừa có xe máy tông vào một bà cụ", "vi"),
        ("बाटोमा बसले मान्छेलाई ठक्कर दियो", "ne"),
        ("友達からもう死にたいってLINEが来た", "ja"),
        ("my brother says he is going to kill himself", "en"),
        ("我朋友说她不想活了", "zh-Hans"),
        ("친구가 자살하겠다고 해요", "ko"),
        ("bạn tôi nói muốn tự tử", "vi"),
        ("मेरो साथी आत्महत्या गर्छु भन्दैछ", "ne"),
        ("認知症の父が夕方から帰ってこない", "ja"),
        ("grandpa has dementia and he's been missing since lunch", "en"),
        ("我奶奶有老年痴呆，现在找不到她了", "zh-Hans"),
        ("床の上まで水が来ている、どうしよう", "ja"),
        ("水已经淹到膝盖了", "zh-Hans"),
        ("물이 무릎까지 찼어요", "ko"),
        ("母が台所で倒れて、呼んでも返事がない", "ja"),
        ("我爷爷晕倒了，没有反应", "zh-Hans"),
        # A re-test: what a road or street-light report's comment may say.
        ("電柱が倒れて人が下敷きになっています", "ja"),
        ("the street light wires are sparking", "en"),
        ("a car fell into the sinkhole and the driver is inside", "en"),
        ("电线冒火花了", "zh-Hans"),
        ("전선에서 불꽃이 튀어요", "ko"),
        ("dây điện tóe lửa trước nhà", "vi"),
        # A review: a word of the after-the-fact list said in an emergency now (死, 处理, hỏng).
        ("父が倒れて息をしていない、死んじゃう", "ja"),
        ("我爸倒下了不动了怎么处理", "zh-Hans"),
        ("thang máy hỏng, có người bị kẹt, bất tỉnh", "vi"),
    ],
)
def test_a_question_naming_an_emergency_is_shown_who_to_call_first(ward_index, text, language):
    action, shown = ward_index.decide(ward_index.search(text, language))
    assert action != NO_MATCH and shown[0].entry_id == URGENT_ENTRY


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The payment page is not responding", "en"),
        ("the LINE menu is not responding when I tap", "en"),
        ("Is there a choking first aid class?", "en"),
        ("choking hazard toys disposal", "en"),
        ("息ができないほど忙しい", "ja"),
        ("the printer is bleeding ink", "en"),
        ("火が出たらどこに避難しますか", "ja"),  # asks ahead of time: the evacuation entry answers
        ("歯ぐきから出血しやすいです。歯科検診はありますか", "ja"),
        ("I want to see fireworks", "en"),
        ("khó thở khi chạy bộ, có khám sức khỏe không", "vi"),
        ("xe bus dang chay cham qua", "vi"),  # "is running": unmarked chay is no fire alone
        ("app chet roi", "vi"),
        # A review: unmarked words that name no emergency happening now.
        ("Binh cuu hoa vut o dau?", "vi"),
        ("hoi ve bao hiem khi bi tai nan", "vi"),
        ("dien bi ngat ca ngay", "vi"),
        ("aago lageko bela ke garne, jankari chahiyo", "ne"),
        ("durghatana bhaeko bela bima kasari garne", "ne"),
        ("behos bhayeko bela ke garne", "ne"),
        ("dherai ragat parikshan garna parchha?", "ne"),
        # A review: unmarked "bật tính năng" (turn a feature on), "nhà bị chảy nước" (a leak).
        ("lam sao bat tinh nang thong bao tren LINE", "vi"),
        ("nha bi chay nuoc tu tran, goi ai", "vi"),
        # Words of a crime or of smoke that are no crime or fire now.
        ("rice prices these days are daylight robbery", "en"),
        ("不審者情報をLINEで受け取りたい", "ja"),
        ("예약 연기나 취소는 어떻게 해요", "ko"),
        # A review of the patterns: a past event, a device, a crime word in a question about a
        # procedure, a certificate, a subsidy or disposal.
        ("祖母が倒れて入院しました。介護保険の申請はどうすれば", "ja"),
        ("父が倒れたので介護認定を受けたい", "ja"),
        ("空き巣に入られないための防犯対策の補助金はありますか", "ja"),
        ("包丁を持ち込んで研いでもらえる場所はありますか", "ja"),
        ("台風で倒れた木が道をふさいで動かないのですが、どこに連絡すればいいですか", "ja"),
        ("換気扇から煙が出ている気がするけど点検はどこに頼む", "ja"),
        ("胸が苦しいので健康診断を受けたい", "ja"),
        ("ひとが けがを したとき の ほけん", "ja-easy"),
        ("くろい けむり の でる ごみ は どう すてますか", "ja-easy"),
        ("My key broke in the lock of the ward mailbox", "en"),
        ("My husband passed out last year and now needs nursing care insurance, how do I apply?", "en"),
        ("Someone broke into my bike shed last month, can I get a police report copy?", "en"),
        ("Can I buy smoke detectors with a subsidy? smoke from the kitchen when cooking", "en"),
        ("如何申请防止小偷的补助", "zh-Hans"),
        ("老人倒地后需要护理保险怎么申请", "zh-Hans"),
        ("厨房冒烟报警器哪里可以领取", "zh-Hans"),
        ("강도 피해 증명서는 어디서 받나요", "ko"),
        ("폭행 피해자 지원 상담 창구가 있나요", "ko"),
        ("기절한 적이 있어서 장애인 수첩을 신청하고 싶어요", "ko"),
        ("주방 연기가 나서 환풍기 수리 업체 알려주세요", "ko"),
        ("Làm sao để xin giấy chứng nhận bị cướp", "vi"),
        ("Toi bi danh gia thap khi xin viec", "vi"),
        ("Bếp có khói nhiều, quạt thông gió hỏng thì liên hệ đâu", "vi"),
        ("धुवाँ नआउने चुलो कहाँ पाइन्छ", "ne"),
        ("chakku kaha phalne", "ne"),
        # Its re-test: a past collapse, fire or crime, a death, a course.
        ("父が倒れてそのまま亡くなりました。死亡届はどこに出せばいいですか", "ja"),
        ("救命講習会（AED）はいつありますか", "ja"),
        ("去年の火事で焼けた家の解体の補助はありますか", "ja"),
        ("My father collapsed last year and now needs care. How do I apply for care insurance?", "en"),
        ("My car was broken into yesterday, what should I do now?", "en"),
        ("아버지가 쓰러져서 돌아가셨습니다. 사망신고는 어디서 하나요?", "ko"),
        ("Năm ngoái bố tôi bị đột quỵ, giờ cần chăm sóc. Làm sao đăng ký bảo hiểm điều dưỡng?", "vi"),
        # Words of the new emergencies in questions about something else.
        ("ガス料金の支払い方法は", "ja"),
        ("子どもが通える保育園が見つからない", "ja"),
        ("認知症の父が迷子にならないための見守りサービス", "ja"),
        ("my son lost his my number card", "en"),
        ("my kid is missing school a lot, who to consult", "en"),
        ("孩子的医保卡丢了", "zh-Hans"),
        ("自行车轮胎漏气了怎么补", "zh-Hans"),
        ("아이 눈이 잘 안 보여요 안과 추천", "ko"),
        ("치매 있는 아버지가 밖에 나가서 길을 잃을까 봐 걱정이에요", "ko"),
        ("con em bị mất thẻ bảo hiểm", "vi"),
        ("nhà bị ngập sau bão, quận có hỗ trợ không", "vi"),
        ("बाढी आयो भने के गर्ने", "ne"),
        ("chhora ko card harayo", "ne"),
        ("how to get a water damage certificate after the flood", "en"),
        ("Tôi nhặt được con chó đi lạc thì liên hệ ai", "vi"),  # a stray dog
        ("印鑑登録のカードがどこ探しても見つからない", "ja"),
        ("집에 도둑이 들어서 도장이 없어졌어요", "ko"),
        ("बच्चाको खोपको फारम हरायो", "ne"),
        ("माइनम्बर कार्ड चल्दैन", "ne"),
        ("सडक दुर्घटना प्रमाणपत्र कहाँ पाइन्छ", "ne"),
        ("電柱の番号は何ですか", "ja"),
        # A review: a word of "now" in a question asking for a certificate or an application.
        ("今日火事の罹災証明書はどこで", "ja"),
        ("现在交通事故证明怎么开", "zh-Hans"),
        ("지금 화재 증명서 신청하려면", "ko"),
        # A re-test: named after the fact, who to call was answered (its entry's own words) or
        # shown alone.
        ("交通事故证明怎么办理", "zh-Hans"),
        ("火事の罹災証明書はどこで", "ja"),
        # A review of the everyday-words patterns: a thing falls, a fee is not debited, a cat.
        ("人が死ぬといくら費用がかかりますか", "ja"),
        ("区役所の窓口はこわそうで行けません", "ja"),
        ("カラスがごみ袋を無理やりあけて散らかします", "ja"),
        ("夫が払っている保険料が口座から落ちていません", "ja"),
        ("息子が第一希望の保育園から落ちた。どうすればいいですか", "ja"),
        ("家の前に車が止められていて、車庫から出られません", "ja"),
        ("一人暮らしですが、窓から虫が入ってきそうで心配です", "ja"),
        ("The guardrail was struck by a car, who fixes it?", "en"),
        ("Smoke rising from the factory chimney every night, is that legal?", "en"),
        ("公园里从树上掉下来很多树枝，请处理", "zh-Hans"),
        ("我的被子从阳台掉下去了，掉到邻居家", "zh-Hans"),
        ("自行车卡在停车场出不去", "zh-Hans"),
        ("고양이가 차에 치여 죽어 있어요. 어떻게 해야 하나요?", "ko"),
        ("고양이가 자꾸 집에 들어오려고 해요", "ko"),
        ("아이가 어린이집 추첨에서 떨어졌어요. 어떻게 해요?", "ko"),
        ("Tôi tìm khắp nơi mà không thấy mẫu đơn đăng ký", "vi"),
        ("Tôi chưa về nhà nên không thấy thư thông báo", "vi"),
        ("Toi goi khong tinh phi duoc khong", "vi"),
        # Its re-test: a thing that falls or is hit, sandbags, moving in, a parent abroad.
        ("家族が死ぬといつまでに年金の手続きをしますか", "ja"),
        ("大雨のとき水が家に入ってこないように土のうはどこでもらえますか", "ja"),
        ("水が出ません。家に入っている水道管の修理は区ですか", "ja"),
        ("大家さんが屋根から落ちた瓦を直してくれません", "ja"),
        ("子どもが公園の木から落ちた実を食べても大丈夫ですか", "ja"),
        ("作業員が足場から落ちたボルトを道に放置しています", "ja"),
        ("上の階の人が窓から落ちた洗濯物を取りに来ません", "ja"),
        ("エレベーターがない団地で、車いすの母が外に出られません。支援はありますか", "ja"),
        ("鍵をなくしたので、鍵を無理やり開けてくれる業者を紹介してください", "ja"),
        ("区営住宅の玄関のドアを無理やり押さないと閉まりません。修理を頼めますか", "ja"),
        ("粗大ごみの箱の開け方を知らないので無理やり開けたら壊れました", "ja"),
        ("楼上的人从阳台掉下来的花盆砸坏了我的车，找谁", "zh-Hans"),
        ("工人从脚手架掉下的螺丝放在路上没人管", "zh-Hans"),
        ("自行车被人锁在停车场出不来，怎么办", "zh-Hans"),
        ("钥匙丢了，请人撬锁要多少钱", "zh-Hans"),
        ("Smoke is coming from the factory chimney every night, is that legal?", "en"),
        ("The smoke is coming from my neighbour's barbecue every weekend, can the ward stop it?", "en"),
        ("The street sign in front of her house was knocked down by a truck. Who repairs it?", "en"),
        (
            "The window of my ward housing flat is stuck, I keep trying to force the window open. Can you repair it?",
            "en",
        ),
        ("I have to force the door open every morning, the municipal housing door is warped", "en"),
        ("옆집 할머니 고양이가 차에 치여 죽었어요. 사체 처리는 어디에 하나요?", "ko"),
        ("여자친구가 우리 집에 들어오려면 전입신고가 필요한가요?", "ko"),
        ("딸이 소득 계층에서 떨어져 보육료가 올랐어요", "ko"),
        ("Bố tôi chưa về Nhật nên không thấy thư thông báo tiêm chủng", "vi"),
        ("Tôi là người bị kẹt lại Nhật do dịch, gia hạn visa thế nào", "vi"),
        ("Thẻ My Number bị kẹt trong máy in ở cửa hàng tiện lợi, không ra được", "vi"),
        ("अपरिचित व्यक्तिबाट फोन आयो, यो ठगी हो?", "ne"),
        ("बसले ठक्कर दिएको बारको मर्मत कसले गर्छ?", "ne"),
        ("みずが へやに はいって こない ように するには どう すれば いいですか", "ja-easy"),
        ("エレベーターの とじこめ たいさくは ありますか", "ja"),
        ("熱中症で人が死ぬと言われていますが、クーリングシェルターはどこですか", "ja"),
        ("ペットが死ぬといつも悲しいです。ペット霊園は区にありますか", "ja"),
        ("誰かが入ってきそうで不安なので、防犯カメラの補助金はありますか", "ja"),
        ("水が玄関に流れ込まないように止水板の補助はありますか", "ja"),
        ("母が2階から落ちた布団を取りに行けません", "ja"),
        ("Someone's bicycle was struck by a car and left on the road, who removes it?", "en"),
        ("他从阳台掉了一件衣服到楼下邻居家，怎么拿回来", "zh-Hans"),
        ("我关在家里出不去已经一个月了，有没有上门服务", "zh-Hans"),
        ("사람이 없는 빈 집에 들어오려고 하는 고양이 어떻게 해요", "ko"),
        ("외국 사람이 우리 집에 들어오려면 어떤 신고가 필요해요?", "ko"),
        ("아이가 다니는 학교 2층에서 떨어져 있는 급식실 공사 소음", "ko"),
        ("Con tôi đi du học chưa về nên không thấy phiếu khám sức khỏe", "vi"),
        ("Ông tôi chưa về quê nên không thấy giấy báo thuế", "vi"),
    ],
)
def test_words_of_an_emergency_about_a_thing_are_no_emergency(ward_index, text, language):
    """A review: a broken payment page was told to call 119, and offered no person. A question
    naming an emergency after the fact (a procedure, a past event) may offer who to call, last."""
    from chalicelib.domain.faq import normalize, urgency

    action, shown = ward_index.decide(ward_index.search(text, language))
    shown_ids = [hit.entry_id for hit in shown]
    if urgency(normalize(text)) is None:
        assert URGENT_ENTRY not in shown_ids
    else:  # never the answer, never alone, and only last among other suggestions
        assert URGENT_ENTRY not in shown_ids or (
            action != ANSWER and 0 < shown_ids.index(URGENT_ENTRY) == len(shown_ids) - 1
        )


def test_an_emergency_is_answered_outright_only_by_an_entry_about_emergencies():
    from chalicelib.domain.faq import SUGGESTIONS, Hit

    night = Hit("health-emergency-night", 9.0, 0.95)  # "should I call an ambulance at 2am?"
    garbage = Hit("garbage-illegal-dumping", 9.0, 0.95)  # 「有陌生人在我家里」 scored so
    urgent = Hit(URGENT_ENTRY, 1.0, 0.01, urgent=True)
    assert FaqIndex.decide([night, urgent]) == (ANSWER, [night])
    assert FaqIndex.decide([garbage, urgent]) == (SUGGESTIONS, [urgent, garbage])  # who to call first
    assert FaqIndex.decide([Hit("x", 1.0, 0.1), urgent]) == (ANSWER, [urgent])  # nothing else fits
    likely = [Hit("x", 5.0, 0.6), Hit("y", 4.0, 0.3)]
    assert FaqIndex.decide([*likely, urgent]) == (SUGGESTIONS, [urgent, *likely])


def test_the_entries_an_emergency_yields_to_are_entries_of_the_faq(ward_index):
    from chalicelib.domain.faq import _URGENT_YIELDS_TO

    assert _URGENT_YIELDS_TO and set(ward_index.entries) >= _URGENT_YIELDS_TO


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我的マイナンバーカード快过期了", "mynumber-renewal"),  # about to expire: the Chinese says so
        ("家里的旧沙发要扔，粗大ごみ怎么申请？", "garbage-bulky-apply"),  # 申请 (apply), not the ticket
    ],
)
def test_a_japanese_word_in_a_chinese_sentence_leaves_the_chinese_its_meaning(ward_index, text, expected):
    """Kana made the whole text Japanese, and the Chinese around the word counted for nothing."""
    hits = ward_index.search(text, "zh-Hans")
    assert hits[0].entry_id == expected and ward_index.decide(hits)[0] != NO_MATCH, hits
