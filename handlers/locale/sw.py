"""Swahili reply texts (Kiswahili)."""

TEXTS = {
    "help": (
        "Habari za soko kwa SMS. Tuma MSAADA kwa orodha hii, ACHA kusitisha ujumbe wote, ANZA "
        "kupokea tena. Maagizo ya bei na viwango yanakuja hivi karibuni."
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
}
