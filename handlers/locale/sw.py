"""Swahili reply texts (Kiswahili)."""

TEXTS = {
    "help": (
        "BEI MAHINDI NAKURU: bei ya sasa. STD MAHINDI: viwango vya wanunuzi. SAJILI NAKURU: "
        "soko lako. LUGHA EN/FR: lugha. ACHA: sitisha SMS. ANZA: endelea."
    ),
    "stopped": "Hutapokea ujumbe wowote zaidi kutoka kwetu. Tuma ANZA kupokea tena.",
    "started": "Karibu tena. Utapokea ujumbe wetu tena. Tuma MSAADA kwa maagizo.",
    "already_started": "Tayari unapokea ujumbe wetu. Tuma MSAADA kwa maagizo.",
    "unknown": "Samahani, hatukuelewa. Tuma MSAADA kwa orodha ya maagizo.",
    "stop_alone": "Kusitisha ujumbe wote, tuma neno moja ACHA.",
    "rate_limited": (
        "Umetuma ujumbe mwingi kwa muda mfupi. Tutajibu tena baada ya dakika {minutes} hivi."
    ),
    "error": "Samahani, kuna hitilafu upande wetu. Tafadhali jaribu tena baadaye.",
    "thousands_sep": ",",
    "months": "Jan Feb Mac Apr Mei Jun Jul Ago Sep Okt Nov Des",
    "trend_up": "juu {amount}",
    "trend_down": "chini {amount}",
    "trend_same": "sawa",
    "type_retail": "rejareja",
    "type_wholesale": "jumla",
    "price_keyword": "BEI",
    "price": "{commodity}, {market}, {date}: {quotes}.",
    "stale": "Bei ya zamani: {age} iliyopita.",
    "age_months": "miezi {n}",
    "age_years": "miaka {n}",
    "best": (
        "{commodity} bei za juu za {kind} karibuni, {currency}/{unit}: {markets} ({date}). "
        "Tuma {keyword} {name} na soko."
    ),
    "no_prices": "Bado hatuna bei za karibuni za {commodity}.",
    "no_data": "Bado hakuna bei ya {commodity} kwa {market}.",
    "no_data_near": "Bado hakuna bei ya {commodity} kwa {market}. Masoko ya karibu: {markets}.",
    "which": "Ipi: {options}? Tuma {keyword} tena na mojawapo.",
    "prices_none": "Bado hakuna bei za soko. Tafadhali jaribu tena baadaye.",
    "price_usage": "Tuma BEI na bidhaa, na soko ukipenda. Mfano: BEI MAHINDI NAKURU",
    "unknown_commodity": "Hatuna bei za bidhaa hiyo. Jaribu: {suggestions}.",
    "unknown_market": "Hatujui soko hilo. Tuma {keyword} {name} kwa masoko bora.",
    "reg_keyword": "SAJILI",
    "reg_usage": "Tuma SAJILI na soko lako, mfano SAJILI NAKURU. BEI itajibu kwa soko hilo.",
    "reg_current": "Soko lako ni {market}. Tuma SAJILI na soko jingine kubadilisha.",
    "reg_unknown": "Hatujui soko hilo. Tuma SAJILI na jina la soko, mfano SAJILI NAKURU.",
    "reg_done": "Soko lako sasa ni {market}. Tuma BEI MAHINDI kupata bei ya mahindi huko.",
    "lang_usage": "Tuma LUGHA SW kwa Kiswahili, LUGHA EN kwa Kiingereza au LUGHA FR kwa Kifaransa.",
    "lang_done": "Sasa utapokea majibu kwa Kiswahili.",
    "std_source": "Chanzo: {source}",
    "std_list": "Viwango vya bidhaa kwa SMS: {products}. Tuma VIWANGO na bidhaa, mfano VIWANGO {example}",
    "std_unknown": "Hakuna kiwango cha {query}. Tuna viwango vya: {products}. Mfano: VIWANGO {example}",
    "std_choose": "Ulimaanisha ipi: {products}? Tuma mfano VIWANGO {example}",
    "std_none": "Bado hakuna viwango vya bidhaa. Tafadhali jaribu tena baadaye.",
}
