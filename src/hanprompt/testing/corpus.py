"""A few English and Korean sentences written for hanprompt, used to train tiny tokenizers."""

SENTENCES = [
    "What is the capital of England?",
    "The capital of England is London.",
    "You are an AI tutor. What are the best resources for learning Python?",
    "Recommend travel destinations in Korea for a week in autumn.",
    "Translate the answer into Korean, please.",
    "Explain chain-of-thought prompting step by step.",
    "한국의 수도는 서울입니다.",
    "서울에서 부산까지 기차로 두 시간 반이 걸립니다.",
    "제주도는 한국에서 가장 큰 섬이고 성산일출봉이 유명합니다.",
    "전주 한옥마을에서 비빔밥을 먹었습니다.",
    "파이썬을 배우기 좋은 자료를 추천해 주세요.",
    "가을에는 설악산의 단풍을 보러 가는 사람이 많습니다.",
    "경복궁과 북촌 한옥마을은 걸어서 갈 수 있습니다.",
    "The model answered in Korean: 안녕하세요, 반갑습니다!",
    "Numbers 0123456789 and symbols: {} [] () <> = + - * / # @ ! ? . , ; :",
]
