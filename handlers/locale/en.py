"""English reply texts."""

TEXTS = {
    "help": (
        "Market info by SMS. Send HELP for this list, STOP to stop all messages, START to get "
        "them again. Price and standards commands are coming soon."
    ),
    "stopped": "You will get no more messages from us. Send START to receive them again.",
    "started": "Welcome back. You will receive our messages again. Send HELP for the commands.",
    "already_started": "You are already receiving our messages. Send HELP for the commands.",
    "unknown": "Sorry, we did not understand that. Send HELP for the list of commands.",
    "stop_alone": "To stop all messages, send the single word STOP.",
    "rate_limited": (
        "You have sent many messages in a short time. We will answer again in about {minutes} "
        "minutes."
    ),
    "error": "Sorry, something went wrong on our side. Please try again later.",
}
