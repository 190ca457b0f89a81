
/*
 * The Python of the builtin planner's signal families: crossovers of two
 * moving averages, support and resistance levels.  The chart's averages
 * are computed here, for the chart only: the answer is the tool's.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_qna_planner.h"
#include "ngx_qna_planner_python.h"


const char  ngx_qna_py_crossover[] =
    NGX_QNA_PY_BARS("PARAMS[\"long_window\"] + PARAMS[\"lookback_days\"]")
    "short_window = PARAMS[\"short_window\"]\n"
    "long_window = PARAMS[\"long_window\"]\n"
    "cross = mcp_client.call(\"detect_sma_crossover\",\n"
    "                        {\"prices\": closes, \"short_window\": "
                "short_window,\n"
    "                         \"long_window\": long_window})\n"
    "names = {\"golden_cross\": \"golden cross\", \"death_cross\": \"death "
                "cross\"}\n"
    "first = max(len(closes) - PARAMS[\"lookback_days\"], 0)\n"
    "since = days[first][\"t\"][:10]\n"
    "recent = [{\"date\": days[c[\"index\"]][\"t\"][:10], \"type\": "
                "c[\"type\"]}\n"
    "          for c in cross[\"crossovers\"] if c[\"index\"] >= first]\n"
    "last = cross[\"last_crossover\"]\n"
    "short_name = (\"close\" if short_window == 1\n"
    "              else f\"{short_window}-day SMA\")\n"
    "\n"
    "\n"
    "def sma(n):\n"
    "    return [sum(closes[i + 1 - n:i + 1]) / n if i + 1 >= n else None\n"
    "            for i in range(len(closes))]\n"
    "\n"
    NGX_QNA_PY_CHART
    "series = [{\"name\": \"close\", \"values\": tail(closes)}]\n"
    "if short_window > 1:\n"
    "    series.append({\"name\": f\"SMA {short_window}\",\n"
    "                   \"values\": tail(sma(short_window))})\n"
    "series.append({\"name\": f\"SMA {long_window}\",\n"
    "               \"values\": tail(sma(long_window))})\n"
    "chart = {\"type\": \"line\", \"x\": x, \"y_label\": \"USD\", \"series\": "
                "series,\n"
    "         \"markers\": [{\"x\": days[c[\"index\"]][\"t\"][:10],\n"
    "                      \"label\": names[c[\"type\"]]}\n"
    "                     for c in cross[\"crossovers\"]\n"
    "                     if days[c[\"index\"]][\"t\"][:10] >= x[0]]}\n"
    "\n"
    "result = {\n"
    "    \"description\": f\"SMA {short_window}/{long_window} crossovers of "
                "{symbol}, \"\n"
    "                   f\"{since} to {days[-1]['t'][:10]}\",\n"
    "    \"body\": [\n"
    "        {\"key\": \"crossed\", \"value\": bool(recent),\n"
    "         \"description\": f\"{len(recent)} crossover(s) in the last \"\n"
    "                        f\"{PARAMS['lookback_days']} sessions, since "
                "{since}\"},\n"
    "        {\"key\": \"last_crossover\",\n"
    "         \"value\": (f\"{names[last['type']]} on \"\n"
    "                   f\"{days[last['index']]['t'][:10]}\" if last else "
                "None),\n"
    "         \"description\": \"The latest in the bars fetched\"},\n"
    "        {\"key\": \"crossovers\", \"value\": recent,\n"
    "         \"description\": \"Each one since then, oldest first\"},\n"
    "        {\"key\": \"current\", \"value\": cross[\"current\"],\n"
    "         \"description\": f\"The {short_name} is {cross['current']} the "
                "\"\n"
    "                        f\"{long_window}-day SMA\"},\n"
    "        {\"key\": \"short_sma\", \"value\": cross[\"short_sma\"],\n"
    "         \"description\": f\"{short_name} on {days[-1]['t'][:10]}\"},\n"
    "        {\"key\": \"long_sma\", \"value\": cross[\"long_sma\"],\n"
    "         \"description\": f\"{long_window}-day SMA on "
                "{days[-1]['t'][:10]}\"},\n"
    NGX_QNA_PY_SOURCE
    NGX_QNA_PY_CHART_ROW("f\"Closes, averages, crossovers: {len(x)} sessions\"")
    "    ],\n"
    "}\n";


const char  ngx_qna_py_support[] =
    NGX_QNA_PY_BARS("PARAMS[\"history_days\"]")
    "levels = mcp_client.call(\"detect_support_resistance\",\n"
    "                         {\"prices\": closes, \"lookback\": "
                "PARAMS[\"lookback\"]})\n"
    "around = 2 * PARAMS[\"lookback\"] + 1\n"
    NGX_QNA_PY_CHART
    "chart = {\"type\": \"line\", \"x\": x, \"y_label\": \"USD\",\n"
    "         \"series\": [{\"name\": \"close\", \"values\": tail(closes)}],\n"
    "         \"levels\": [{\"y\": v, \"label\": \"support\"} for v in "
                "levels[\"support\"]]\n"
    "                   + [{\"y\": v, \"label\": \"resistance\"}\n"
    "                      for v in levels[\"resistance\"]]}\n"
    "\n"
    "result = {\n"
    "    \"description\": f\"Support and resistance of {symbol}, {span}\",\n"
    "    \"body\": [\n"
    "        {\"key\": \"nearest_support\", \"value\": "
                "levels[\"nearest_support\"],\n"
    "         \"description\": \"The highest support at or below the last "
                "close\"},\n"
    "        {\"key\": \"nearest_resistance\", \"value\": "
                "levels[\"nearest_resistance\"],\n"
    "         \"description\": \"The lowest resistance at or above the last "
                "close\"},\n"
    "        {\"key\": \"last_close\", \"value\": closes[-1],\n"
    "         \"description\": f\"Close of {days[-1]['t'][:10]}\"},\n"
    "        {\"key\": \"support_levels\", \"value\": levels[\"support\"],\n"
    "         \"description\": f\"Closes lowest of the {around} around them, "
                "\"\n"
    "                        f\"within 0.5% merged\"},\n"
    "        {\"key\": \"resistance_levels\", \"value\": "
                "levels[\"resistance\"],\n"
    "         \"description\": f\"Closes highest of the {around} around them, "
                "\"\n"
    "                        f\"within 0.5% merged\"},\n"
    NGX_QNA_PY_SOURCE
    NGX_QNA_PY_CHART_ROW("f\"Closes and the levels, {len(x)} sessions\"")
    "    ],\n"
    "}\n";
