"""Residents who follow the ward on LINE: languages, lifecycle rules and the greeting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.domain.ward import ward_name

ACTIVE = "active"
INACTIVE = "inactive"

# How long a resident's record outlives an unfollow (docs/privacy.md): long enough to
# answer a question about a recent request, short enough to hold nothing stale.
RETENTION_AFTER_UNFOLLOW = timedelta(days=30)

DEFAULT_LANGUAGE = "ja"
# ja-easy is やさしい日本語 (plain Japanese), chosen in settings rather than from a profile.
LANGUAGES = ("ja", "ja-easy", "en", "zh-Hans", "ko", "vi", "ne")
POSTBACK_OPEN_PREFERENCES = "action=preferences"


def language_from_profile(code: str | None) -> str:
    """Map the language of a LINE profile to one we write in.

    Japanese stays Japanese; any other language we have is used; any language we do not
    have gets English, which more of the ward's foreign residents read than Japanese.
    """
    if not code:
        return DEFAULT_LANGUAGE
    if code in LANGUAGES:
        return code
    base = code.split("-")[0].lower()
    if base == "zh":
        return "zh-Hans"
    for language in LANGUAGES:
        if language.lower() == base:
            return language
    return "en"


_GREETING = {
    "ja": (
        "友だち追加ありがとうございます。{ward}の公式LINEです。\n"
        "防災・子育て・ごみなど、知りたい分野と地域・年代を選ぶと、あなたに合うお知らせだけが届きます。\n"
        "区への質問は、いつでもこのトークに送ってください。",
        "配信設定をする",
    ),
    "ja-easy": (
        "ともだちに して くれて ありがとう ございます。{ward}の LINEです。\n"
        "しりたい ことと すんでいる ところを えらぶと、あなたに あう おしらせが とどきます。\n"
        "わからない ことは いつでも ここに かいて ください。",
        "せってい する",
    ),
    "en": (
        "Thank you for adding {ward} as a friend.\n"
        "Choose the topics, area and age group you care about, such as disaster preparedness, "
        "childcare or garbage, and we will send you only the news that fits.\n"
        "You can send your questions to this chat at any time.",
        "Set preferences",
    ),
    "zh-Hans": (
        "感谢您添加{ward}官方LINE为好友。\n"
        "选择您关心的领域（防灾、育儿、垃圾等）、地区和年龄段后，我们只会向您发送相关的通知。\n"
        "如有疑问，可随时在此对话中发送。",
        "设置通知",
    ),
    "ko": (
        "{ward} 공식 LINE을 친구로 추가해 주셔서 감사합니다.\n"
        "방재, 육아, 쓰레기 등 관심 있는 분야와 지역, 연령대를 선택하시면 필요한 소식만 보내 드립니다.\n"
        "궁금한 점은 언제든지 이 대화방으로 보내 주세요.",
        "알림 설정",
    ),
    "vi": (
        "Cảm ơn bạn đã kết bạn với LINE chính thức của {ward}.\n"
        "Hãy chọn lĩnh vực bạn quan tâm (phòng chống thiên tai, nuôi dạy con, rác thải...), khu vực và "
        "độ tuổi, chúng tôi sẽ chỉ gửi những thông báo phù hợp với bạn.\n"
        "Bạn có thể gửi câu hỏi vào cuộc trò chuyện này bất cứ lúc nào.",
        "Cài đặt thông báo",
    ),
    "ne": (
        "{ward} को आधिकारिक LINE लाई साथीको रूपमा थप्नुभएकोमा धन्यवाद।\n"
        "विपद् पूर्वतयारी, बालबालिकाको हेरचाह, फोहोर जस्ता विषय, क्षेत्र र उमेर समूह छान्नुहोस्, "
        "हामी तपाईंलाई मिल्ने सूचना मात्र पठाउनेछौं।\n"
        "प्रश्नहरू जुनसुकै बेला यो च्याटमा पठाउन सक्नुहुन्छ।",
        "सूचना सेटिङ",
    ),
}


def greeting(language: str) -> list[dict[str, Any]]:
    """The welcome a new follower gets: what the account does, and a button to choose news."""
    language = language if language in _GREETING else DEFAULT_LANGUAGE
    text, button = _GREETING[language]
    ward = ward_name(language)
    return [
        {
            "type": "text",
            "text": text.format(ward=ward),
            "quickReply": {
                "items": [
                    {
                        "type": "action",
                        "action": {
                            "type": "postback",
                            "label": button,
                            "data": POSTBACK_OPEN_PREFERENCES,
                            "displayText": button,
                        },
                    }
                ]
            },
        }
    ]
