"""English reply texts."""

TEXTS = {
    "help": (
        "PRICE MAIZE NAKURU: latest price. STD MAIZE: buyer standards. REG NAKURU: your "
        "market. LANG SW/FR: language. STOP: no more SMS. START: resume."
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
    "thousands_sep": ",",
    "months": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
    "trend_up": "up {amount}",
    "trend_down": "down {amount}",
    "trend_same": "no change",
    "type_retail": "retail",
    "type_wholesale": "wholesale",
    "price_keyword": "PRICE",
    "price": "{commodity}, {market}, {date}: {quotes}.",
    "stale": "Old price: {age} ago.",
    "age_months": "{n} months",
    "age_years": "{n} years",
    "best": (
        "{commodity} best recent {kind} prices, {currency}/{unit}: {markets} ({date}). "
        "Send {keyword} {name} and a market."
    ),
    "no_prices": "We have no recent prices for {commodity} yet.",
    "no_data": "No {commodity} price for {market} yet.",
    "no_data_near": "No {commodity} price for {market} yet. Nearest with prices: {markets}.",
    "which": "Which one: {options}? Send {keyword} again with one of them.",
    "prices_none": "No market prices are loaded yet. Please try again later.",
    "price_usage": "Send PRICE and a product, and a market if you like. Example: PRICE MAIZE NAKURU",
    "unknown_commodity": "We have no prices for that product. Try: {suggestions}.",
    "unknown_market": "We do not know that market. Send {keyword} {name} for the best markets.",
    "reg_keyword": "REG",
    "reg_usage": "Send REG and your market, e.g. REG NAKURU. PRICE then answers for that market.",
    "reg_current": "Your market is {market}. Send REG and another market to change it.",
    "reg_unknown": "We do not know that market. Send REG and a market name, e.g. REG NAKURU.",
    "reg_done": "Your market is now {market}. Send PRICE MAIZE for its maize price.",
    "lang_usage": "Send LANG EN for English, LANG SW for Kiswahili or LANG FR for French.",
    "lang_done": "You will now get replies in English.",
    "std_source": "Src: {source}",
    "std_list": "Standards by SMS for: {products}. Send STD and a product, e.g. STD {example}",
    "std_unknown": "No standard for {query}. We have: {products}. Send e.g. STD {example}",
    "std_choose": "Which did you mean: {products}? Send e.g. STD {example}",
    "std_none": "No product standards are loaded yet. Please try again later.",
}
