"""Recurrent layers: the cells, RNN over any cell, SimpleRNN/LSTM/GRU, and the Bidirectional and
TimeDistributed wrappers (Keras 3's names, arguments, weights and numbers)."""

from gpukeras.layers.rnn.bidirectional import Bidirectional
from gpukeras.layers.rnn.gru import GRU, GRUCell
from gpukeras.layers.rnn.lstm import LSTM, LSTMCell
from gpukeras.layers.rnn.rnn import RNN
from gpukeras.layers.rnn.simple_rnn import SimpleRNN, SimpleRNNCell
from gpukeras.layers.rnn.stacked_rnn_cells import StackedRNNCells
from gpukeras.layers.rnn.time_distributed import TimeDistributed

__all__ = ["GRU", "LSTM", "RNN", "Bidirectional", "GRUCell", "LSTMCell", "SimpleRNN", "SimpleRNNCell",
           "StackedRNNCells", "TimeDistributed"]
